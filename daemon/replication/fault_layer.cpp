// See daemon/replication/fault_layer.h.
#include "daemon/replication/fault_layer.h"

#include <charconv>
#include <chrono>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

namespace baton::daemon::replication {

Result<FaultSpec> ParseFaultSpec(const std::string& text) {
  FaultSpec spec;
  std::istringstream in(text);
  std::string item;
  while (in >> item) {
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
    const auto bad = [&](const char* what) {
      return Status::InvalidArgument("fault_injection: \"" + item + "\": " + what);
    };
    if (key == "seed" || key == "delay_ms") {
      int64_t v = -1;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec != std::errc() || p != value.data() + value.size() || v < 0) {
        return bad("expected a non-negative integer");
      }
      if (key == "seed") spec.seed = static_cast<uint64_t>(v);
      if (key == "delay_ms") spec.delay_ms = v;
    } else if (key == "drop" || key == "dup") {
      double v = -1;
      try {
        size_t used = 0;
        v = std::stod(value, &used);
        if (used != value.size()) v = -1;
      } catch (const std::exception&) {
        v = -1;
      }
      if (!(v >= 0 && v <= 1)) return bad("expected a probability between 0 and 1");
      (key == "drop" ? spec.drop : spec.duplicate) = v;
    } else {
      return bad("unknown item (expected seed=, drop=, dup=, delay_ms=)");
    }
  }
  return spec;
}

FaultLayer::FaultLayer(FaultSpec spec, std::filesystem::path control_file)
    : spec_(spec), control_file_(std::move(control_file)), rng_(spec.seed) {}

void FaultLayer::ReadControl() {
  // A stat per message: a test that rewrote the file sees the next message obey it. The stamp
  // is coarse (a file system tick), so two writes inside one tick look alike: the file is read
  // again at least every 200 ms whatever its stamp says, and a cut is never stuck.
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(control_file_, ec);
  const int64_t stamp = ec ? -1 : static_cast<int64_t>(mtime.time_since_epoch().count());
  const auto size = ec ? std::uintmax_t{0} : std::filesystem::file_size(control_file_, ec);
  const auto now = std::chrono::steady_clock::now();
  if (stamp == control_stamp_ && size == control_size_ &&
      now - control_read_at_ < std::chrono::milliseconds(200)) {
    return;
  }
  control_stamp_ = stamp;
  control_size_ = size;
  control_read_at_ = now;
  cut_.clear();
  std::ifstream in(control_file_);
  std::string verb, site;
  while (in >> verb >> site) {
    if (verb == "cut") cut_.insert(site);
  }
}

bool FaultLayer::Passes(const crdt::SiteId& site) {
  ReadControl();
  return cut_.count(site) == 0;
}

std::vector<std::string> FaultLayer::Outgoing(const crdt::SiteId& site, const std::string& link,
                                              std::string bytes, int64_t now_ms) {
  std::vector<std::string> now;
  if (!Passes(site)) return now;
  std::uniform_real_distribution<double> coin(0, 1);
  if (coin(rng_) < spec_.drop) return now;
  const int copies = coin(rng_) < spec_.duplicate ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    if (spec_.delay_ms > 0) {
      std::uniform_int_distribution<int64_t> delay(0, spec_.delay_ms);
      delayed_.emplace(now_ms + delay(rng_), Delayed{site, link, bytes});
    } else {
      now.push_back(bytes);
    }
  }
  return now;
}

std::vector<FaultLayer::Delayed> FaultLayer::Due(int64_t now_ms) {
  std::vector<Delayed> out;
  while (!delayed_.empty() && delayed_.begin()->first <= now_ms) {
    auto node = delayed_.extract(delayed_.begin());
    if (Passes(node.mapped().site)) out.push_back(std::move(node.mapped()));
  }
  return out;
}

}  // namespace baton::daemon::replication
