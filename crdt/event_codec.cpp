// Canonical event bytes: written by Cereal's PortableBinaryOutputArchive (little-endian), read
// back by a strict reader of the same format that rejects anything Cereal would not have written
// (a bool byte other than 0/1, a foreign endianness marker, counts larger than the bytes left,
// unknown enum values, trailing bytes). Layout: docs/event-format.md.
#include "crdt/event_codec.h"

#include <algorithm>
#include <cereal/archives/portable_binary.hpp>
#include <cereal/cereal.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>
#include <cstring>
#include <exception>
#include <sstream>
#include <type_traits>

namespace baton::crdt {
namespace codec_detail {

// Reads Cereal portable binary (little-endian only) from a byte range, strictly.
// Every failure throws cereal::Exception; DecodeEvent turns it into a Status.
class StrictInputArchive
    : public cereal::InputArchive<StrictInputArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit StrictInputArchive(std::string_view bytes) : InputArchive(this), bytes_(bytes) {}

  void Read(void* out, size_t n) {
    if (n > remaining()) {
      throw cereal::Exception("truncated: " + std::to_string(n) + " bytes needed at offset " +
                              std::to_string(pos_) + ", " + std::to_string(remaining()) + " left");
    }
    if (n > 0) std::memcpy(out, bytes_.data() + pos_, n);
    pos_ += n;
  }
  size_t remaining() const { return bytes_.size() - pos_; }
  size_t offset() const { return pos_; }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

}  // namespace codec_detail
}  // namespace baton::crdt

// Cereal's traits pair every input archive with an output archive (the other direction stays
// PortableBinaryInputArchive).
namespace cereal::traits::detail {
template <>
struct get_output_from_input<baton::crdt::codec_detail::StrictInputArchive> {
  using type = PortableBinaryOutputArchive;
};
}  // namespace cereal::traits::detail

namespace baton::crdt {
namespace codec_detail {

// Integers: little-endian, two's complement, sizeof(T) bytes.
template <class T>
std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>> CEREAL_LOAD_FUNCTION_NAME(
    StrictInputArchive& ar, T& t) {
  using U = std::make_unsigned_t<T>;
  unsigned char buf[sizeof(T)];
  ar.Read(buf, sizeof(T));
  U v = 0;
  for (size_t i = sizeof(T); i-- > 0;) {
    if constexpr (sizeof(T) > 1) v = static_cast<U>(v << 8);
    v = static_cast<U>(v | buf[i]);
  }
  t = static_cast<T>(v);
}

// Bools: one byte, 0 or 1. Anything else is not what Cereal writes (and would be UB to load).
inline void CEREAL_LOAD_FUNCTION_NAME(StrictInputArchive& ar, bool& b) {
  const size_t at = ar.offset();
  unsigned char byte = 0;
  ar.Read(&byte, 1);
  if (byte > 1) {
    throw cereal::Exception("bool byte " + std::to_string(byte) + " at offset " +
                            std::to_string(at) + " (must be 0 or 1)");
  }
  b = byte == 1;
}

// Raw bytes (string contents, the 32-byte hash). Only byte-sized elements occur in events, so
// no byte swapping is ever needed.
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(StrictInputArchive& ar, cereal::BinaryData<T>& bd) {
  static_assert(sizeof(std::remove_pointer_t<T>) == 1, "only byte-sized binary data in events");
  ar.Read(bd.data, static_cast<size_t>(bd.size));
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(StrictInputArchive& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}

// A count (string length, vector size) can never exceed the bytes left: every element takes at
// least one byte. This bounds allocations by the input size.
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(StrictInputArchive& ar, cereal::SizeTag<T>& t) {
  const size_t at = ar.offset();
  ar(t.size);
  if (t.size > ar.remaining()) {
    throw cereal::Exception("count " + std::to_string(t.size) + " at offset " + std::to_string(at) +
                            " exceeds the " + std::to_string(ar.remaining()) + " bytes left");
  }
}

// Vectors grow one decoded element at a time (Cereal's loader resizes to the count first).
template <class T, class A>
void CEREAL_LOAD_FUNCTION_NAME(StrictInputArchive& ar, std::vector<T, A>& v) {
  cereal::size_type n = 0;
  ar(cereal::make_size_tag(n));
  v.clear();
  for (cereal::size_type i = 0; i < n; ++i) {
    v.emplace_back();
    ar(v.back());
  }
}

template <class Archive, class E>
void Fields(Archive& ar, E& e) {
  ar(e.runbook_id, e.origin, e.seq, e.hlc, e.prev_hash, e.actor, e.body);
}

// Enum values this build knows; a newer value comes with a newer format version.
Status CheckDependencies(const std::string& task_id, const std::vector<Dependency>& deps) {
  for (const Dependency& d : deps) {
    if (static_cast<uint8_t>(d.type) > static_cast<uint8_t>(DependencyType::kStartToFinish)) {
      return Status::Corruption("task \"" + task_id + "\": dependency type " +
                                std::to_string(static_cast<unsigned>(d.type)) + " is unknown");
    }
  }
  return Status::Ok();
}

Status CheckSpec(const TaskSpec& spec) {
  if (static_cast<uint8_t>(spec.kind) > static_cast<uint8_t>(TaskKind::kGate)) {
    return Status::Corruption("task \"" + spec.id + "\": task kind " +
                              std::to_string(static_cast<unsigned>(spec.kind)) + " is unknown");
  }
  return CheckDependencies(spec.id, spec.predecessors);
}

Status CheckEnums(const Body& body) {
  return std::visit(
      [](const auto& b) -> Status {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, PlanDefined>) {
          for (const SiteInfo& s : b.plan.sites) {
            if (static_cast<uint8_t>(s.role) > static_cast<uint8_t>(SiteRole::kObserver)) {
              return Status::Corruption("site \"" + s.id + "\": role " +
                                        std::to_string(static_cast<unsigned>(s.role)) +
                                        " is unknown");
            }
          }
          for (const TaskSpec& t : b.plan.tasks) BATON_TRY(CheckSpec(t));
        } else if constexpr (std::is_same_v<T, TaskAdded>) {
          BATON_TRY(CheckSpec(b.spec));
        } else if constexpr (std::is_same_v<T, TaskChanged>) {
          if (b.patch.predecessors) BATON_TRY(CheckDependencies(b.task_id, *b.patch.predecessors));
        } else if constexpr (std::is_same_v<T, TaskReported>) {
          if (static_cast<uint8_t>(b.kind) > static_cast<uint8_t>(ReportKind::kReset)) {
            return Status::Corruption("task \"" + b.task_id + "\": report kind " +
                                      std::to_string(static_cast<unsigned>(b.kind)) +
                                      " is unknown");
          }
        }
        return Status::Ok();
      },
      body);
}

uint64_t ReadLe64(std::string_view bytes, size_t at) {
  uint64_t v = 0;
  for (size_t i = 8; i-- > 0;) {
    v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  }
  return v;
}

}  // namespace codec_detail

uint16_t FormatVersionOf(const Event& e) {
  if (const auto* d = std::get_if<PlanDefined>(&e.body); d != nullptr && !d->fences.empty()) {
    return 3;
  }
  if (const auto* c = std::get_if<TaskChanged>(&e.body); c != nullptr && c->patch.deciders) {
    return 3;
  }
  const auto names_deciders = [](const TaskSpec& t) { return !t.deciders.empty(); };
  const bool v2 = std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, PlanDefined>) {
          return std::any_of(b.plan.sites.begin(), b.plan.sites.end(),
                             [](const SiteInfo& s) { return !s.teams.empty(); }) ||
                 std::any_of(b.plan.tasks.begin(), b.plan.tasks.end(), names_deciders);
        } else if constexpr (std::is_same_v<T, TaskAdded>) {
          return names_deciders(b.spec);
        } else {
          return false;
        }
      },
      e.body);
  return v2 ? 2 : 1;
}

std::string EncodeEvent(const Event& e) {
  const uint16_t version = FormatVersionOf(e);
  const format::Scope scope(version);
  std::ostringstream out(std::ios::binary);
  {
    cereal::PortableBinaryOutputArchive ar(
        out, cereal::PortableBinaryOutputArchive::Options::LittleEndian());
    ar(version);
    codec_detail::Fields(ar, e);
  }
  return std::move(out).str();
}

Result<Event> DecodeEvent(std::string_view payload) {
  const auto corrupt = [](const std::string& what) {
    return Status::Corruption("event payload: " + what);
  };
  Event e;
  try {
    codec_detail::StrictInputArchive ar(payload);
    uint8_t endianness = 0;
    ar(endianness);
    if (endianness != 1) {
      return corrupt("byte 0 is " + std::to_string(endianness) +
                     ", expected 1 (Cereal's little-endian marker)");
    }
    uint16_t version = 0;
    ar(version);
    if (version > kEventFormatVersion) {
      return corrupt("event format version " + std::to_string(version) +
                     " is newer than this build supports (" + std::to_string(kEventFormatVersion) +
                     ")");
    }
    if (version == 0) return corrupt("event format version 0 is not valid");
    const format::Scope scope(version);
    codec_detail::Fields(ar, e);
    if (ar.remaining() != 0) {
      return corrupt(std::to_string(ar.remaining()) + " trailing bytes after the event at offset " +
                     std::to_string(ar.offset()));
    }
    // One encoding per event: an event is written in the oldest version that carries it.
    if (const uint16_t needed = FormatVersionOf(e); version != needed) {
      return corrupt("event " + e.id().ToString() + " is in format version " +
                     std::to_string(version) + " but uses nothing newer than version " +
                     std::to_string(needed) + " (not the canonical encoding)");
    }
  } catch (const std::exception& ex) {
    return corrupt(ex.what());
  }
  if (Status s = codec_detail::CheckEnums(e.body); !s.ok()) {
    return corrupt("event " + e.id().ToString() + ": " + s.message());
  }
  // The reader is strict (one encoding per value: bool and optional flags 0/1, checked variant
  // indexes and enums, exact lengths, no trailing bytes), so EncodeEvent(e) == payload holds
  // without re-encoding here; tests/crdt/event_codec_test.cpp checks it on random events and
  // on every flipped bit. Re-encoding on every decode would cost a third of a rebuild.
  return e;
}

std::string EncodeEnvelope(const SignedEvent& signed_event) {
  BATON_CHECK(signed_event.signature.empty() || signed_event.signature.size() == kSignatureSize);
  std::string out;
  out.reserve(1 + 8 + signed_event.payload.size() + 1 + signed_event.signature.size());
  out.push_back(static_cast<char>(kEnvelopeVersion));
  uint64_t n = signed_event.payload.size();
  for (int i = 0; i < 8; ++i) {
    out.push_back(static_cast<char>(n & 0xff));
    n >>= 8;
  }
  out += signed_event.payload;
  out.push_back(static_cast<char>(signed_event.signature.size()));
  out += signed_event.signature;
  return out;
}

Result<EnvelopeView> DecodeEnvelopeView(std::string_view envelope) {
  const auto corrupt = [](const std::string& what) {
    return Status::Corruption("event envelope: " + what);
  };
  if (envelope.empty()) return corrupt("empty");
  const auto version = static_cast<unsigned char>(envelope[0]);
  if (version != kEnvelopeVersion) {
    return corrupt("envelope version " + std::to_string(version) + " is not supported (" +
                   std::to_string(kEnvelopeVersion) + ")");
  }
  if (envelope.size() < 9) return corrupt("truncated in the payload size");
  const uint64_t payload_size = codec_detail::ReadLe64(envelope, 1);
  if (payload_size > envelope.size() - 9 || envelope.size() - 9 - payload_size < 1) {
    return corrupt("payload size " + std::to_string(payload_size) + " exceeds the " +
                   std::to_string(envelope.size() - 9) + " bytes left");
  }
  const size_t sig_at = 9 + static_cast<size_t>(payload_size);
  const auto sig_size = static_cast<unsigned char>(envelope[sig_at]);
  if (sig_size != 0 && sig_size != kSignatureSize) {
    return corrupt("signature size " + std::to_string(sig_size) + " (must be 0 or " +
                   std::to_string(kSignatureSize) + ")");
  }
  const size_t left = envelope.size() - sig_at - 1;
  if (left < sig_size) {
    return corrupt("truncated signature: " + std::to_string(left) + " of " +
                   std::to_string(sig_size) + " bytes");
  }
  if (left > sig_size) return corrupt(std::to_string(left - sig_size) + " trailing bytes");
  return EnvelopeView{envelope.substr(9, static_cast<size_t>(payload_size)),
                      envelope.substr(sig_at + 1, sig_size)};
}

Result<SignedEvent> DecodeEnvelope(std::string_view envelope) {
  BATON_ASSIGN_OR_RETURN(EnvelopeView view, DecodeEnvelopeView(envelope));
  return SignedEvent{std::string(view.payload), std::string(view.signature)};
}

}  // namespace baton::crdt
