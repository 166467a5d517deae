// Peer message bytes: written by Cereal's PortableBinaryOutputArchive (little-endian) after the
// protocol version byte, read back by a strict reader of the same format (the approach of
// crdt/event_codec.cpp): every count is checked against the bytes left before anything is
// allocated, bools are 0 or 1, version vectors have sorted unique origins and no zero entries,
// trailing bytes are refused. So hostile frames cost at most their own size, and decode-then-
// encode gives back the same bytes. Cereal's exceptions stop here and become kCorruption.
#include "daemon/replication/peer_messages.h"

#include <cereal/archives/portable_binary.hpp>
#include <cereal/cereal.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>
#include <cstring>
#include <exception>
#include <map>
#include <sstream>
#include <type_traits>

namespace baton::daemon::replication {
namespace wire_detail {

// Reads Cereal portable binary (little-endian only) from a byte range, strictly. Every failure
// throws cereal::Exception; DecodePeerMessage turns it into a Status.
class StrictPeerArchive
    : public cereal::InputArchive<StrictPeerArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit StrictPeerArchive(std::string_view bytes) : InputArchive(this), bytes_(bytes) {}

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

}  // namespace wire_detail
}  // namespace baton::daemon::replication

// Cereal's traits pair every input archive with an output archive.
namespace cereal::traits::detail {
template <>
struct get_output_from_input<baton::daemon::replication::wire_detail::StrictPeerArchive> {
  using type = PortableBinaryOutputArchive;
};
}  // namespace cereal::traits::detail

namespace baton::daemon::replication {
namespace wire_detail {

// Integers: little-endian, two's complement, sizeof(T) bytes.
template <class T>
std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>> CEREAL_LOAD_FUNCTION_NAME(
    StrictPeerArchive& ar, T& t) {
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

// Bools: one byte, 0 or 1 (anything else is not what Cereal writes, and UB to load).
inline void CEREAL_LOAD_FUNCTION_NAME(StrictPeerArchive& ar, bool& b) {
  const size_t at = ar.offset();
  unsigned char byte = 0;
  ar.Read(&byte, 1);
  if (byte > 1) {
    throw cereal::Exception("bool byte " + std::to_string(byte) + " at offset " +
                            std::to_string(at) + " (must be 0 or 1)");
  }
  b = byte == 1;
}

// Raw bytes: only string contents occur here, so no byte swapping is ever needed.
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(StrictPeerArchive& ar, cereal::BinaryData<T>& bd) {
  static_assert(sizeof(std::remove_pointer_t<T>) == 1, "only byte-sized binary data");
  ar.Read(bd.data, static_cast<size_t>(bd.size));
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(StrictPeerArchive& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}

// Reads a count and checks that `min_bytes` per element fit in what is left, so a hostile
// length prefix cannot make anything allocate more than the frame's own size.
size_t ReadCount(StrictPeerArchive& ar, size_t min_bytes) {
  const size_t at = ar.offset();
  cereal::size_type n = 0;
  ar(n);
  if (n > ar.remaining() / min_bytes) {
    throw cereal::Exception("count " + std::to_string(n) + " at offset " + std::to_string(at) +
                            " exceeds the " + std::to_string(ar.remaining()) + " bytes left");
  }
  return static_cast<size_t>(n);
}

// String lengths (the only bare size tags left: strings go through this).
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(StrictPeerArchive& ar, cereal::SizeTag<T>& t) {
  t.size = ReadCount(ar, 1);
}

// The only vector is Events::envelopes: each element is at least its 8-byte length, and there
// are at most kMaxBatchEvents of them; it grows one decoded element at a time.
template <class T, class A>
void CEREAL_LOAD_FUNCTION_NAME(StrictPeerArchive& ar, std::vector<T, A>& v) {
  const size_t at = ar.offset();
  const size_t n = ReadCount(ar, sizeof(cereal::size_type));
  if (n > kMaxBatchEvents) {
    throw cereal::Exception("count " + std::to_string(n) + " at offset " + std::to_string(at) +
                            " is over " + std::to_string(kMaxBatchEvents) + " events");
  }
  v.clear();
  for (size_t i = 0; i < n; ++i) {
    v.emplace_back();
    ar(v.back());
  }
}

// The only map is a version vector: origin -> seq, each entry at least 16 bytes, origins
// strictly increasing (what Cereal writes from a std::map) and no zero seq (VersionVector's
// invariant: an origin not seen is absent).
template <class K, class V, class C, class A>
void CEREAL_LOAD_FUNCTION_NAME(StrictPeerArchive& ar, std::map<K, V, C, A>& m) {
  const size_t n = ReadCount(ar, 2 * sizeof(cereal::size_type));
  m.clear();
  for (size_t i = 0; i < n; ++i) {
    const size_t at = ar.offset();
    K key;
    V value{};
    ar(key, value);
    if (!m.empty() && !(m.rbegin()->first < key)) {
      throw cereal::Exception("map key at offset " + std::to_string(at) +
                              " is not after the previous one");
    }
    if (value == V{}) {
      throw cereal::Exception("version vector entry at offset " + std::to_string(at) + " is 0");
    }
    m.emplace_hint(m.end(), std::move(key), std::move(value));
  }
}

}  // namespace wire_detail

const char* PeerMessageName(const PeerMessage& m) {
  switch (m.index()) {
    case 0:
      return "hello";
    case 1:
      return "events";
    case 2:
      return "have";
  }
  return "unknown";
}

std::string EncodePeerMessage(const PeerMessage& m) {
  std::ostringstream out(std::ios::binary);
  out.put(static_cast<char>(kPeerProtocolVersion));
  {
    cereal::PortableBinaryOutputArchive ar(
        out, cereal::PortableBinaryOutputArchive::Options::LittleEndian());
    ar(m);
  }
  return std::move(out).str();
}

Result<PeerMessage> DecodePeerMessage(std::string_view bytes) {
  const auto corrupt = [](const std::string& what) {
    return Status::Corruption("peer message: " + what);
  };
  if (bytes.size() > kMaxPeerMessageBytes) {
    return corrupt(std::to_string(bytes.size()) + " bytes is over the limit of " +
                   std::to_string(kMaxPeerMessageBytes));
  }
  if (bytes.empty()) return corrupt("empty frame");
  const auto version = static_cast<unsigned char>(bytes[0]);
  if (version != kPeerProtocolVersion) {
    return corrupt("protocol version " + std::to_string(version) + " is not supported (" +
                   std::to_string(kPeerProtocolVersion) + ")");
  }
  PeerMessage m;
  try {
    wire_detail::StrictPeerArchive ar(bytes.substr(1));
    uint8_t endianness = 0;
    ar(endianness);
    if (endianness != 1) {
      return corrupt("byte 1 is " + std::to_string(endianness) +
                     ", expected 1 (Cereal's little-endian marker)");
    }
    ar(m);
    if (ar.remaining() != 0) {
      return corrupt(std::to_string(ar.remaining()) + " trailing bytes after the " +
                     PeerMessageName(m) + " message");
    }
  } catch (const std::exception& ex) {
    return corrupt(ex.what());
  }
  if (const auto* events = std::get_if<Events>(&m)) {
    // The count was checked while decoding; the bytes can only be summed now.
    size_t total = 0;
    for (const std::string& e : events->envelopes) total += e.size();
    if (total > kMaxBatchBytes) {
      return corrupt("events message carries " + std::to_string(total) +
                     " envelope bytes, over the limit of " + std::to_string(kMaxBatchBytes));
    }
  }
  return m;
}

}  // namespace baton::daemon::replication
