// libFuzzer target: envelopes as a peer sends them, through the decoders and the chain verifier
// (the path of every received event before anything is stored).
// Input: records, each a little-endian u16 length and that many bytes (one envelope). The
// verifier knows two origins, hq and v1, both signing with one fixed key, so the seeds' chains
// verify and mutations of them reach the chain checks.
// Property: an envelope and payload the decoders accept encode back to the same bytes (the
// format is canonical: one event, one byte string, one hash).
// Seeds: BATON_FUZZ_WRITE_SEEDS=DIR ./fuzz_event writes tests/fuzz/corpus/event.
#include <sodium.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "crdt/event_codec.h"
#include "daemon/identity/chain.h"
#include "daemon/identity/keys.h"

namespace {

using namespace baton;

const identity::KeyPair& FixedKeys() {
  static const identity::KeyPair keys = [] {
    if (sodium_init() < 0) std::abort();
    unsigned char seed[crypto_sign_SEEDBYTES];
    for (size_t i = 0; i < sizeof seed; ++i) seed[i] = static_cast<unsigned char>(i * 7 + 1);
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_seed_keypair(pk, sk, seed);
    return identity::KeyPair{std::string(reinterpret_cast<char*>(pk), sizeof pk),
                             std::string(reinterpret_cast<char*>(sk), sizeof sk)};
  }();
  return keys;
}

std::string Record(const std::string& envelope) {
  const size_t n = envelope.size() & 0xffff;
  return std::string{static_cast<char>(n & 0xff), static_cast<char>(n >> 8)} +
         envelope.substr(0, n);
}

crdt::Event Draft(int64_t wall_ms, crdt::Body body) {
  crdt::Event e;
  e.hlc = crdt::Hlc{wall_ms, 0};
  e.actor = "fuzz@hq";
  e.body = std::move(body);
  return e;
}

// A few chains of every body kind, signed at the end or not at all.
void WriteSeeds(const std::string& dir) {
  const int64_t t0 = 1774641600000;
  crdt::PlanDefined plan;
  plan.plan.runbook_id = "rb-fuzz";
  plan.plan.name = "Fuzz weekend";
  plan.plan.sites = {{"hq", "HQ", FixedKeys().public_key, crdt::SiteRole::kManager, "", {}},
                     {"v1", "V1", FixedKeys().public_key, crdt::SiteRole::kSite, "", {}}};
  crdt::TaskSpec task;
  task.id = "T-1";
  task.site = "v1";
  task.duration_ms = 3600000;
  plan.plan.tasks = {task};
  crdt::TaskReported report;
  report.task_id = "T-1";
  report.kind = crdt::ReportKind::kDone;
  report.effective_ms = t0 + 60000;
  report.note = "ok";
  const std::vector<std::pair<std::string, std::vector<crdt::Event>>> chains = {
      {"hq", {Draft(t0, plan), Draft(t0 + 1, crdt::NoteAdded{"", "hello"})}},
      {"v1",
       {Draft(t0 + 2, report), Draft(t0 + 3, crdt::NoteAdded{"T-1", "n"}),
        Draft(t0 + 4, crdt::GateDecided{"T-1", true, t0, "go", {}})}},
      {"hq", {Draft(t0, crdt::TaskAdded{task}), Draft(t0 + 5, crdt::TaskRemoved{"T-1"})}},
  };
  int n = 0;
  for (const auto& [origin, drafts] : chains) {
    for (auto signing :
         {identity::ChainWriter::Signing::kLast, identity::ChainWriter::Signing::kLater}) {
      identity::ChainWriter writer(FixedKeys(), "rb-fuzz", origin, 0, crdt::Hash{});
      std::string input;
      for (const auto& built : writer.Build(drafts, signing)) input += Record(built.envelope);
      std::ofstream(dir + "/seed-" + std::to_string(n++), std::ios::binary) << input;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("BATON_FUZZ_WRITE_SEEDS")) {
    WriteSeeds(dir);
    std::exit(0);
  }
  FixedKeys();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  identity::ChainVerifier verifier("rb-fuzz", [](const crdt::SiteId& s) {
    return s == "hq" || s == "v1" ? std::optional<std::string>(FixedKeys().public_key)
                                  : std::nullopt;
  });
  std::string_view in(reinterpret_cast<const char*>(data), size);
  while (in.size() >= 2) {
    const size_t n =
        static_cast<uint8_t>(in[0]) | (static_cast<size_t>(static_cast<uint8_t>(in[1])) << 8);
    in.remove_prefix(2);
    const std::string_view envelope = in.substr(0, n);
    in.remove_prefix(envelope.size());
    if (auto signed_event = crdt::DecodeEnvelope(envelope); signed_event.ok()) {
      if (crdt::EncodeEnvelope(*signed_event) != envelope) std::abort();
      if (auto event = crdt::DecodeEvent(signed_event->payload); event.ok()) {
        if (crdt::EncodeEvent(*event) != signed_event->payload) std::abort();
      }
    }
    const auto check = (n & 1) != 0 ? identity::ChainVerifier::Check::kNow
                                    : identity::ChainVerifier::Check::kAtSettle;
    static_cast<void>(verifier.Accept(envelope, check));
  }
  static_cast<void>(verifier.Settle());
  return 0;
}
