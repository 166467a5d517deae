// Site identity: key files (mode 0600, atomic, never overwritten, refused when exposed), hex,
// BLAKE2b-256 against published vectors, and Ed25519 signatures that fail on every flipped bit.
#include <sys/stat.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

#include "crdt/event_codec.h"
#include "daemon/identity/keys.h"
#include "tests/support/temp_dir.h"

namespace baton::identity {
namespace {

namespace fs = std::filesystem;

unsigned ModeOf(const fs::path& p) {
  struct stat st {};
  BOOST_TEST_REQUIRE(::stat(p.c_str(), &st) == 0);
  return static_cast<unsigned>(st.st_mode & 07777);
}

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

BOOST_AUTO_TEST_SUITE(key_files)

BOOST_AUTO_TEST_CASE(generated_keys_have_libsodium_sizes) {
  const KeyPair keys = GenerateKeyPair();
  BOOST_TEST(keys.public_key.size() == kPublicKeySize);
  BOOST_TEST(keys.secret_key.size() == kSecretKeySize);
  BOOST_TEST(keys.public_key != GenerateKeyPair().public_key);
}

BOOST_AUTO_TEST_CASE(written_keys_read_back_with_secret_mode_0600) {
  testing::TempDir dir;
  const KeyPair keys = GenerateKeyPair();
  BOOST_TEST_REQUIRE(WriteKeyFiles(dir / "id", keys).ToString() == "OK");
  BOOST_TEST(ModeOf(dir / "id" / "site.key") == 0600u);
  BOOST_TEST(Slurp(dir / "id" / "site.pub") == ToHex(keys.public_key) + "\n");
  BOOST_TEST(Slurp(dir / "id" / "site.key") == ToHex(keys.secret_key) + "\n");
  for (const auto& entry : fs::directory_iterator(dir / "id")) {
    BOOST_TEST((entry.path().filename() == "site.pub" || entry.path().filename() == "site.key"),
               "no temporary file left: " << entry.path());
  }
  auto back = ReadKeyFiles(dir / "id");
  BOOST_TEST_REQUIRE(back.ok(), back.status().ToString());
  BOOST_TEST(back->public_key == keys.public_key);
  BOOST_TEST(back->secret_key == keys.secret_key);
}

BOOST_AUTO_TEST_CASE(an_existing_identity_is_never_overwritten) {
  testing::TempDir dir;
  const KeyPair first = GenerateKeyPair();
  BOOST_TEST_REQUIRE(WriteKeyFiles(dir.path(), first).ok());
  const Status s = WriteKeyFiles(dir.path(), GenerateKeyPair());
  BOOST_TEST(static_cast<int>(s.code()) == static_cast<int>(StatusCode::kInvalidArgument));
  BOOST_TEST(Contains(s.message(), "already exists: refusing to overwrite"), s.message());
  BOOST_TEST(ReadKeyFiles(dir.path())->secret_key == first.secret_key);

  // Even when only one of the two files is there.
  testing::TempDir other;
  { std::ofstream(other / "site.pub") << "x"; }
  BOOST_TEST(!WriteKeyFiles(other.path(), first).ok());
  BOOST_TEST(!fs::exists(other / "site.key"));
}

BOOST_AUTO_TEST_CASE(a_secret_key_readable_by_others_is_refused) {
  testing::TempDir dir;
  BOOST_TEST_REQUIRE(WriteKeyFiles(dir.path(), GenerateKeyPair()).ok());
  for (mode_t mode : {0644, 0640, 0604, 0620}) {
    BOOST_TEST_CONTEXT("mode " << std::oct << mode) {
      BOOST_TEST_REQUIRE(::chmod((dir / "site.key").c_str(), mode) == 0);
      auto r = ReadKeyFiles(dir.path());
      BOOST_TEST_REQUIRE(!r.ok());
      BOOST_TEST(static_cast<int>(r.status().code()) == static_cast<int>(StatusCode::kRejected));
      BOOST_TEST(Contains(r.status().message(), "site.key\" is accessible by group or others"),
                 r.status().message());
      BOOST_TEST(Contains(r.status().message(), "chmod 600"));
    }
  }
  BOOST_TEST_REQUIRE(::chmod((dir / "site.key").c_str(), 0400) == 0);
  BOOST_TEST(ReadKeyFiles(dir.path()).ok());
}

BOOST_AUTO_TEST_CASE(missing_damaged_or_mismatched_files_are_named) {
  testing::TempDir dir;
  auto missing = ReadKeyFiles(dir.path());
  BOOST_TEST(static_cast<int>(missing.status().code()) == static_cast<int>(StatusCode::kNotFound));
  BOOST_TEST(Contains(missing.status().message(), "site.key\" is missing"));

  BOOST_TEST_REQUIRE(WriteKeyFiles(dir.path(), GenerateKeyPair()).ok());
  fs::remove(dir / "site.pub");
  { std::ofstream(dir / "site.pub") << ToHex(GenerateKeyPair().public_key) << "\n"; }
  auto mismatched = ReadKeyFiles(dir.path());
  BOOST_TEST(static_cast<int>(mismatched.status().code()) ==
             static_cast<int>(StatusCode::kCorruption));
  BOOST_TEST(Contains(mismatched.status().message(), "does not belong to"));

  fs::remove(dir / "site.pub");
  { std::ofstream(dir / "site.pub") << "zz\n"; }
  auto garbage = ReadKeyFiles(dir.path());
  BOOST_TEST(static_cast<int>(garbage.status().code()) ==
             static_cast<int>(StatusCode::kCorruption));
  BOOST_TEST(Contains(garbage.status().message(), "site.pub\": not a hex digit at position 0"),
             garbage.status().message());
}

BOOST_AUTO_TEST_CASE(a_key_file_too_large_is_refused_unread) {
  testing::TempDir dir;
  BOOST_TEST_REQUIRE(WriteKeyFiles(dir.path(), GenerateKeyPair()).ok());
  fs::remove(dir / "site.pub");
  { std::ofstream(dir / "site.pub") << std::string(size_t{10} << 20, '0'); }
  auto big = ReadKeyFiles(dir.path());
  BOOST_TEST(static_cast<int>(big.status().code()) ==
             static_cast<int>(StatusCode::kInvalidArgument));
  BOOST_TEST(
      Contains(big.status().message(),
               "site.pub\" is 10485760 bytes, over the limit of 4096: is it the right file?"),
      big.status().message());
  BOOST_TEST(big.status().message().size() < 300u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(hex)

BOOST_AUTO_TEST_CASE(round_trips_every_byte) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::string hex = ToHex(all);
  BOOST_TEST(hex.substr(0, 8) == "00010203");
  BOOST_TEST(hex.substr(hex.size() - 4) == "feff");
  BOOST_TEST(FromHex(hex).value() == all);
  BOOST_TEST(FromHex("ABcd").value() == std::string("\xab\xcd"));
  BOOST_TEST(FromHex("").value().empty());
}

BOOST_AUTO_TEST_CASE(bad_hex_is_named) {
  BOOST_TEST(FromHex("abc").status().ToString() == "InvalidArgument: hex of odd length 3");
  BOOST_TEST(FromHex("a0xg").status().ToString() ==
             "InvalidArgument: not a hex digit at position 2: 'x'");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(hashing)

BOOST_AUTO_TEST_CASE(blake2b_256_matches_reference_vectors) {
  BOOST_TEST(HashHex(HashPayload("")) ==
             "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  BOOST_TEST(HashHex(HashPayload("abc")) ==
             "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  BOOST_TEST(StateDigest("abc") == HashHex(HashPayload("abc")));
}

BOOST_AUTO_TEST_CASE(a_streamed_digest_equals_the_digest_of_the_whole_bytes) {
  // Sizes around the stream's 64 KiB block, written in odd pieces and single characters.
  for (size_t size :
       {size_t{0}, size_t{1}, size_t{65535}, size_t{65536}, size_t{65537}, size_t{200001}}) {
    std::string bytes(size, '\0');
    for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 131 + size) % 251);
    StateDigestStream out;
    size_t at = 0;
    for (size_t piece = 1; at < size; piece = piece * 3 + 1) {
      const size_t n = std::min(piece % 70000, size - at);
      if (n == 1) {
        out.put(bytes[at]);
      } else {
        out.write(bytes.data() + at, static_cast<std::streamsize>(n));
      }
      at += n;
    }
    BOOST_TEST(out.Finish() == StateDigest(bytes), "size " << size);
  }
}

BOOST_AUTO_TEST_CASE(worked_example_hash_matches_the_format_document) {
  // The payload of docs/event-format.md's worked example.
  const std::string payload =
      FromHex(
          "01010002000000000000007262020000000000000068710200000000000000e80300000000000001"
          "000000abababababababababababababababababababababababababababababababab0200000000"
          "000000616c050000000300000000000000542d310100000000000000800000000000000000010000"
          "0000000000020000000000000064650700000000000000")
          .value();
  BOOST_TEST_REQUIRE(crdt::DecodeEvent(payload).ok());
  BOOST_TEST(HashHex(HashPayload(payload)) ==
             "97ee9f97ae028b2d5abff10f7cc5a46b6c34b34dbaf641ee45c7de31a6648003");
}

BOOST_AUTO_TEST_CASE(first_use_from_many_threads_is_safe) {
  std::vector<std::thread> threads;
  std::vector<std::string> digests(8);
  for (size_t i = 0; i < digests.size(); ++i) {
    threads.emplace_back([&digests, i] { digests[i] = StateDigest("same"); });
  }
  for (auto& t : threads) t.join();
  for (const auto& d : digests) BOOST_TEST(d == digests.front());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(signatures)

BOOST_AUTO_TEST_CASE(a_signature_verifies_only_with_its_key_and_payload) {
  const KeyPair keys = GenerateKeyPair();
  const std::string sig = Sign("payload", keys.secret_key);
  BOOST_TEST(sig.size() == kSignatureSize);
  BOOST_TEST(Verify("payload", sig, keys.public_key));
  BOOST_TEST(!Verify("payload!", sig, keys.public_key));
  BOOST_TEST(!Verify("payload", sig, GenerateKeyPair().public_key));
  BOOST_TEST(!Verify("payload", sig.substr(1), keys.public_key));
  BOOST_TEST(!Verify("payload", "", keys.public_key));
  BOOST_TEST(!Verify("payload", sig, keys.public_key.substr(1)));
}

BOOST_AUTO_TEST_CASE(every_flipped_bit_of_payload_or_signature_fails) {
  const KeyPair keys = GenerateKeyPair();
  crdt::Event e;
  e.runbook_id = "rb";
  e.origin = "hq";
  e.seq = 1;
  e.hlc = crdt::Hlc{1000, 0};
  e.actor = "al";
  e.body = crdt::TaskReported{"T-1", crdt::ReportKind::kDone, crdt::kNoTime, "", {}};
  const std::string payload = crdt::EncodeEvent(e);
  const std::string sig = Sign(payload, keys.secret_key);
  BOOST_TEST_REQUIRE(Verify(payload, sig, keys.public_key));
  int checked = 0;
  for (size_t i = 0; i < payload.size() * 8; ++i) {
    std::string flipped = payload;
    flipped[i / 8] = static_cast<char>(flipped[i / 8] ^ (1 << (i % 8)));
    BOOST_TEST(!Verify(flipped, sig, keys.public_key), "payload bit " << i);
    ++checked;
  }
  for (size_t i = 0; i < sig.size() * 8; ++i) {
    std::string flipped = sig;
    flipped[i / 8] = static_cast<char>(flipped[i / 8] ^ (1 << (i % 8)));
    BOOST_TEST(!Verify(payload, flipped, keys.public_key), "signature bit " << i);
    ++checked;
  }
  BOOST_TEST(checked == static_cast<int>((payload.size() + sig.size()) * 8));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace baton::identity
