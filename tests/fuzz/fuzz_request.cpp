// libFuzzer target: one client request frame, as any local process may send it, through the
// protocol parser and the real ClientService on a real ledger (RocksDB in a temp directory, on
// /dev/shm when there is one). The site holds a small plan and may report on every task, so
// valid mutations of the seeds reach the ops and append events (committed as batond would).
// A crash, a sanitizer report or an exception is a finding; so is a reply that is not JSON.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "client/protocol.h"
#include "daemon/identity/keys.h"
#include "daemon/ledger.h"
#include "daemon/service/client_service.h"
#include "tests/support/temp_dir.h"

namespace {

using namespace baton;
using nlohmann::json;

constexpr int64_t kNow = 1774645200000;  // 2026-03-27T21:00:00Z, inside the plan's window.

struct Site {
  std::unique_ptr<testing::TempDir> dir;
  std::unique_ptr<daemon::Ledger> ledger;
  std::unique_ptr<daemon::ClientService> service;
};

void Must(const Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "fuzz_request: %s: %s\n", what, s.ToString().c_str());
  std::abort();
}

Site& TheSite() {
  static Site site = [] {
    Site s;
    std::error_code ec;
    const bool shm = std::filesystem::is_directory("/dev/shm", ec);
    s.dir = std::make_unique<testing::TempDir>("baton-fuzz", shm ? "/dev/shm" : "");
    daemon::Config c;
    c.data_dir = s.dir->path() / "hq";
    c.site = "hq";
    Must(daemon::Ledger::Create(c), "create");
    auto keys = identity::ReadKeyFiles(c.KeyDir());
    Must(keys.status(), "keys");
    c.trust_site = "hq";
    c.trust_key = keys->public_key;
    auto ledger = daemon::Ledger::Open(c, [] { return kNow; });
    Must(ledger.status(), "open");
    s.ledger = std::move(ledger).value();
    s.service = std::make_unique<daemon::ClientService>(s.ledger.get());
    const json plan = {
        {"runbook_id", "rb-fuzz"},
        {"window_start_ms", kNow - 3600000},
        {"window_end_ms", kNow + 8 * 3600000},
        {"tasks",
         {{{"id", "A"}, {"site", "hq"}, {"duration_ms", 3600000}},
          {{"id", "B"}, {"site", "hq"}, {"predecessors", {"A"}}, {"backout_task", "X"}},
          {{"id", "G"}, {"site", "hq"}, {"kind", "gate"}, {"predecessors", {"B"}}},
          {{"id", "X"}, {"site", "hq"}, {"is_backout", true}}}}};
    auto out = s.service->Handle(client::MakeRequest("1", "plan.import", {{"plan", plan}}), "fuzz");
    Must(s.ledger->Commit(), "commit the plan");
    if (out.reply.find("\"ok\":true") == std::string::npos) {
      std::fprintf(stderr, "fuzz_request: plan.import: %s\n", out.reply.c_str());
      std::abort();
    }
    return s;
  }();
  return site;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  TheSite();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Site& site = TheSite();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto out = site.service->Handle(text, "fuzz");
  if (site.ledger->staged() > 0) Must(site.ledger->Commit(), "commit");
  // Every reply is one JSON object a client can read.
  if (!client::ParseServerMessage(out.reply).ok()) {
    std::fprintf(stderr, "fuzz_request: unreadable reply %s\n", out.reply.c_str());
    std::abort();
  }
  return 0;
}
