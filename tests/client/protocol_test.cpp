// client/protocol: request parsing names the bad field, typed args, times, and the plan/event
// JSON (plan round trips are property-tested over random plans).
#include "client/protocol.h"

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <random>
#include <string>

namespace baton::client {
namespace {

using json = nlohmann::json;

Request MustParse(const std::string& text) {
  auto r = ParseRequest(text);
  BOOST_TEST_REQUIRE(r.ok(), r.status().ToString());
  return r.value();
}

std::string ErrorOf(const std::string& text) {
  auto r = ParseRequest(text);
  BOOST_TEST_REQUIRE(!r.ok(), "expected an error for " << text);
  BOOST_TEST((r.status().code() == StatusCode::kInvalidArgument));
  return r.status().message();
}

crdt::Plan RandomPlan(uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
  auto word = [&](const char* prefix) { return std::string(prefix) + std::to_string(pick(1000)); };
  crdt::Plan plan;
  plan.runbook_id = word("rb-");
  plan.name = "Release \"weekend\" \xC3\xA9t\xC3\xA9 " + word("");
  plan.timezone = "Europe/Berlin";
  if (pick(4) != 0) {
    plan.window_start_ms = 1715990000000 + pick(100000);
    plan.window_end_ms = plan.window_start_ms + pick(100000000);
  }
  for (int i = 0, n = pick(4); i < n; ++i) {
    crdt::SiteInfo site;
    site.id = "site-" + std::to_string(i);
    site.name = word("Site ");
    if (pick(2)) {
      for (int b = 0; b < 32; ++b) site.public_key += static_cast<char>(pick(256));
    }
    site.role = static_cast<crdt::SiteRole>(pick(3));
    site.endpoint = pick(2) ? "tcp://127.0.0.1:" + std::to_string(7000 + i) : "";
    plan.sites.push_back(site);
  }
  for (int i = 0, n = pick(3); i < n; ++i) plan.teams.push_back(word("team-"));
  for (int i = 0, n = pick(30); i < n; ++i) {
    crdt::TaskSpec t;
    t.id = "T-" + std::to_string(i);
    t.title = word("do thing ");
    t.phase = word("phase-");
    t.team = word("team-");
    t.site = "site-" + std::to_string(pick(3));
    t.kind = static_cast<crdt::TaskKind>(pick(3));
    if (pick(2)) t.planned_start_ms = 1715990000000 + pick(1000000);
    if (pick(3) == 0) t.not_before_ms = 1715990000000 - pick(1000000);
    t.duration_ms = pick(10000000);
    for (int p = 0; p < i && p < 3; ++p) {
      if (pick(2)) continue;
      t.predecessors.push_back(crdt::Dependency{"T-" + std::to_string(pick(i)),
                                                static_cast<crdt::DependencyType>(pick(4)),
                                                pick(2) ? -pick(60000) : pick(60000)});
    }
    if (pick(5) == 0) t.backout_task = "T-" + std::to_string(pick(30));
    t.is_backout = pick(6) == 0;
    plan.tasks.push_back(t);
  }
  return plan;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ProtocolTest)

BOOST_AUTO_TEST_CASE(typos_are_answered_with_the_words_meant) {
  const std::vector<std::string> ids{"T-001", "T-002", "T-042", "T-420", "BO-01"};
  using Ids = std::vector<std::string>;
  // Case and leading zeros: only that one.
  BOOST_TEST((Suggestions("t-42", ids) == Ids{"T-042"}));
  BOOST_TEST((Suggestions("T-0042", ids) == Ids{"T-042"}));
  BOOST_TEST((Suggestions("bo-1", ids) == Ids{"BO-01"}));
  // One edit away, nearest first, at most three.
  BOOST_TEST((Suggestions("T-043", ids) == Ids{"T-042"}));
  BOOST_TEST(Suggestions("T-4", ids, 1).size() == 1u);  // At most as many as asked for.
  BOOST_TEST(Suggestions("Z-999", ids).empty());
  BOOST_TEST(Suggestions("T-042", ids).empty());  // Itself is not a typo.
  const std::vector<std::string> commands{"start", "status", "show", "skip"};
  BOOST_TEST((Suggestions("statsu", commands) == Ids{"status"}));
  BOOST_TEST((Suggestions("stat", commands) == Ids{"start", "status"}));
  BOOST_TEST(DidYouMean({"start", "status"}) == " (did you mean start or status?)");
  BOOST_TEST(DidYouMean({}).empty());
}

BOOST_AUTO_TEST_CASE(event_ids_read_as_site_slash_seq) {
  auto id = ParseEventIdText("vendor-de/57", "event");
  BOOST_REQUIRE(id.ok());
  BOOST_TEST(id->origin == "vendor-de");
  BOOST_TEST(id->seq == 57u);
  for (const char* bad : {"T-1", "/5", "hq/", "hq/0", "hq/05", "hq/x", "hq/99999999999999999999"}) {
    BOOST_TEST_CONTEXT("text " << bad) {
      auto r = ParseEventIdText(bad, "event");
      BOOST_TEST(!r.ok());
      if (!r.ok()) BOOST_TEST(r.status().message().find("is not an event id") != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_valid_report_request_parses_into_typed_args) {
  Request req = MustParse(R"({"v":1,"id":"c-1","op":"report","task":"T-042","kind":"done",)"
                          R"("note":"all green","at":"2024-05-18T02:10:00Z","actor":"Alice"})");
  BOOST_TEST(req.id == "c-1");
  BOOST_TEST(req.op == "report");
  auto args = ParseReportArgs(req);
  BOOST_TEST_REQUIRE(args.ok(), args.status().ToString());
  BOOST_TEST(args->task_id == "T-042");
  BOOST_TEST((args->kind == crdt::ReportKind::kDone));
  BOOST_TEST(args->note == "all green");
  BOOST_TEST(args->effective_ms == 1715998200000);
  BOOST_TEST(args->actor == "Alice");

  auto epoch = ParseReportArgs(MustParse(
      R"({"v":1,"id":"2","op":"report","task":"T-1","kind":"start","at":1715998200123})"));
  BOOST_TEST_REQUIRE(epoch.ok());
  BOOST_TEST(epoch->effective_ms == 1715998200123);
  auto none =
      ParseReportArgs(MustParse(R"({"v":1,"id":"3","op":"report","task":"T-1","kind":"reset"})"));
  BOOST_TEST_REQUIRE(none.ok());
  BOOST_TEST(none->effective_ms == crdt::kNoTime);
}

BOOST_AUTO_TEST_CASE(request_errors_name_the_field) {
  auto bad_kind = ParseReportArgs(
      MustParse(R"({"v":1,"id":"1","op":"report","task":"T-1","kind":"finished"})"));
  BOOST_TEST_REQUIRE(!bad_kind.ok());
  BOOST_TEST(bad_kind.status().message() ==
             R"(field "kind": "finished" is not one of start, done, fail, skip, reset)");

  auto no_task = ParseReportArgs(MustParse(R"({"v":1,"id":"1","op":"report","kind":"done"})"));
  BOOST_TEST(no_task.status().message() == R"(field "task": is missing)");

  const std::string no_offset = ErrorOf(
      R"({"v":1,"id":"1","op":"report","task":"T-1","kind":"done","at":"2024-05-18T02:10"})");
  BOOST_TEST(no_offset.find(R"(field "at": "2024-05-18T02:10")") == 0, no_offset);
  BOOST_TEST(no_offset.find("no UTC offset") != std::string::npos);

  BOOST_TEST(ErrorOf(R"({"id":"1","op":"ping"})") == R"(field "v": is missing (expected 1))");
  BOOST_TEST(ErrorOf(R"({"v":2,"id":"1","op":"ping"})").find(R"(field "v")") == 0);
  BOOST_TEST(ErrorOf(R"({"v":1,"op":"ping"})") == R"(field "id": is missing)");
  BOOST_TEST(ErrorOf(R"({"v":1,"id":7,"op":"ping"})") == R"(field "id": expected a string, got 7)");
  BOOST_TEST(ErrorOf(R"({"v":1,"id":"1","op":"frob"})")
                 .find(R"(field "op": "frob" is not one of ping, plan.import)") == 0);
  BOOST_TEST(
      ErrorOf(R"({"v":1,"id":"1","op":"report","task":"T-1","kind":"done","nte":"x"})") ==
      R"(field "nte": is not an argument of report (expected task, kind, note, at, actor, force, reason))");
  BOOST_TEST(ErrorOf(R"({"v":1,"id":"1","op":"ready","task":"T-1"})") ==
             R"(field "task": is not an argument of ready (it takes none))");
  BOOST_TEST(ErrorOf(R"({"v":1,"id":"1",)").find("not valid JSON") == 0);
  BOOST_TEST(ErrorOf(R"([1,2])").find("request: expected a JSON object") == 0);

  auto gate =
      ParseGateArgs(MustParse(R"({"v":1,"id":"1","op":"gate","task":"G-1","decision":"maybe"})"));
  BOOST_TEST(gate.status().message() == R"(field "decision": "maybe" is not one of go, no-go)");
  auto list = ParseListArgs(MustParse(R"({"v":1,"id":"1","op":"list","status":"finished"})"));
  BOOST_TEST(list.status().message().find(R"(field "status": "finished" is not one of pending)") ==
             0);
  BOOST_TEST(ErrorOf(R"({"v":1,"id":"1","op":"watch","cursor":-3})") ==
             R"(field "cursor": expected a non-negative integer, got -3)");
  BOOST_TEST(ErrorOf(R"({"v":1,"id":"1","op":"watch","cursor":7,"epoch":5})") ==
             R"(field "epoch": expected a string, got 5)");
  auto odd_epoch =
      ParseWatchArgs(MustParse(R"({"v":1,"id":"1","op":"watch","cursor":7,"epoch":"ab12"})"));
  BOOST_TEST(
      odd_epoch.status().message().find(R"(field "epoch": "ab12" is not an arrival epoch)") == 0,
      odd_epoch.status().message());
  auto resumed = ParseWatchArgs(
      MustParse(R"({"v":1,"id":"1","op":"watch","cursor":7,"epoch":"00ff00ff00ff00ff"})"));
  BOOST_TEST_REQUIRE(resumed.ok(), resumed.status().ToString());
  BOOST_TEST(resumed->cursor == 7u);
  BOOST_TEST(resumed->epoch.value_or("") == "00ff00ff00ff00ff");
}

BOOST_AUTO_TEST_CASE(oversize_request_is_refused_before_parsing) {
  std::string text = R"({"v":1,"id":"1","op":"note","text":")";
  text += std::string(kMaxRequestBytes, 'x');
  text += R"("})";
  auto r = ParseRequest(text);
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(
      r.status().message().find("over the limit of 4194304 bytes (4 MiB)") != std::string::npos,
      r.status().message());
  BOOST_TEST(PeekRequestId(text) == "");
}

// Hostile requests (docs/client-protocol.md#limits): each was a crash, a stall or accepted
// nonsense before the request shapes were declared and checked in one place.
BOOST_AUTO_TEST_CASE(a_wrong_type_for_an_option_with_a_default_is_refused_by_name) {
  BOOST_TEST(ErrorOf(R"({"v":1,"id":"1","op":"status","digest":"yes"})") ==
             R"(field "digest": expected true or false, got "yes")");
  BOOST_TEST(ErrorOf(R"({"v":1,"id":"1","op":"status","digest":1})") ==
             R"(field "digest": expected true or false, got 1)");
  BOOST_TEST(ErrorOf(R"({"v":1,"id":"1","op":"list","late":"no"})") ==
             R"(field "late": expected true or false, got "no")");
  BOOST_TEST(ErrorOf(R"({"v":1,"id":"1","op":"report","task":7,"kind":"done"})") ==
             R"(field "task": expected a string, got 7)");
  BOOST_TEST(ErrorOf(R"({"v":1,"id":"1","op":"plan.import","plan":[]})") ==
             R"(field "plan": expected an object, got [])");
  BOOST_TEST(ErrorOf(R"({"v":1,"id":"1","op":"plan.amend","task_remove":"T-1"})") ==
             R"(field "task_remove": expected an array, got "T-1")");
  auto digest = ParseStatusArgs(MustParse(R"({"v":1,"id":"1","op":"status","digest":true})"));
  BOOST_TEST_REQUIRE(digest.ok());
  BOOST_TEST(digest->digest);
  BOOST_TEST(!ParseStatusArgs(MustParse(R"({"v":1,"id":"1","op":"status"})"))->digest);
}

BOOST_AUTO_TEST_CASE(a_number_too_large_for_a_double_is_not_json) {
  for (const char* text : {R"({"v":1,"id":"1","op":"ping","x":1e400})",
                           R"({"v":1,"id":"1","op":"status","digest":-1e999})", R"(1e400)"}) {
    BOOST_TEST(ErrorOf(text).find("not valid JSON") == 0, text);
    BOOST_TEST(PeekRequestId(text) == "");
  }
}

BOOST_AUTO_TEST_CASE(deep_nesting_is_refused_before_it_is_parsed) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  BOOST_TEST(ErrorOf(deep).find("nests arrays and objects deeper than 32 levels") !=
             std::string::npos);
  const std::string field = R"({"v":1,"id":"7","op":"ping","x":)" + std::string(100000, '{');
  BOOST_TEST(ErrorOf(field).find("deeper than 32 levels (at byte") != std::string::npos);
  BOOST_TEST(PeekRequestId(field) == "");
  // Brackets inside strings (escaped quotes too) are text, not nesting.
  const std::string quoted =
      R"({"v":1,"id":"1","op":"note","text":"\")" + std::string(1000, '[') + R"("})";
  BOOST_TEST(ParseRequest(quoted).ok());
  // 32 levels are fine: the request object is one of them.
  std::string inner = "1";
  for (int i = 0; i < 31; ++i) inner = "[" + inner + "]";
  const std::string at_limit = R"({"v":1,"id":"1","op":"plan.amend","task_add":)" + inner + "}";
  BOOST_TEST(ParseRequest(at_limit).ok());
  BOOST_TEST(ErrorOf(R"({"v":1,"id":"1","op":"plan.amend","task_add":[)" + inner + "]}")
                 .find("deeper than 32") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(long_values_are_refused_and_never_echoed) {
  const std::string big(10 << 20, 'x');
  const std::string note =
      ErrorOf(R"({"v":1,"id":"1","op":"note","text":")" + std::string(5000, 'x') + R"("})");
  BOOST_TEST(note == R"(field "text": is 5000 bytes, over the limit of 4096)");
  auto fits = ParseNoteArgs(
      MustParse(R"({"v":1,"id":"1","op":"note","text":")" + std::string(4096, 'n') + R"("})"));
  BOOST_TEST(fits.ok());
  const std::string title =
      R"({"v":1,"id":"1","op":"plan.amend","task_add":[{"id":"T-9","title":")" +
      std::string(kMaxTitleBytes + 1, 't') + R"("}]})";
  BOOST_TEST(ParsePlanAmendArgs(MustParse(title)).status().message() ==
             "task_add[0].title: is 513 bytes, over the limit of 512");
  BOOST_TEST(ErrorOf(R"({"v":1,"id":"1","op":"task","task":")" + std::string(200, 'T') + R"("})") ==
             R"(field "task": is 200 bytes, over the limit of 128)");
  // Over the request limit as a whole, an unknown argument's name, an id, a time: all cut.
  for (const std::string& text :
       {R"({"v":1,"id":"1","op":"ping",")" + std::string(3 << 20, 'k') + R"(":1})",
        R"({"v":1,"id":")" + std::string(3 << 20, 'i') + R"(","op":"ping"})",
        R"({"v":1,"id":"1","op":"report","task":"T-1","kind":"done","at":")" +
            std::string(3 << 20, '2') + R"("})",
        R"({"v":1,"id":"1","op":"note","text":")" + big + R"("})"}) {
    const std::string message = ErrorOf(text);
    BOOST_TEST(message.size() < 300u, message.substr(0, 300));
  }
  BOOST_TEST(PeekRequestId(R"({"v":1,"id":")" + std::string(200, 'i') + R"(","op":"ping"})") == "");
}

BOOST_AUTO_TEST_CASE(times_durations_and_lags_are_bounded) {
  const auto report_at = [](const std::string& at) {
    return ErrorOf(R"({"v":1,"id":"1","op":"report","task":"T-1","kind":"done","at":)" + at + "}");
  };
  for (const char* at :
       {"0", "-1", "-9223372036854775807", "9223372036854775807", R"("0001-01-01T00:00:00Z")",
        R"("1999-12-31T23:59:59Z")", R"("2100-01-01T00:00:00Z")", "18446744073709551615"}) {
    BOOST_TEST(report_at(at).find(R"(field "at": )") == 0, at);
  }
  BOOST_TEST(report_at("0") ==
             R"(field "at": time 0 is outside the years 2000 to 2099 (epoch ms 946684800000 to )"
             R"(4102444799999))");
  auto edge = ParseReportArgs(MustParse(
      R"({"v":1,"id":"1","op":"report","task":"T-1","kind":"done","at":"2000-01-01T00:00:00Z"})"));
  BOOST_TEST_REQUIRE(edge.ok(), edge.status().ToString());
  BOOST_TEST(edge->effective_ms == kMinTimeMs);

  const auto add = [](const std::string& task) {
    return ParsePlanAmendArgs(
               MustParse(R"({"v":1,"id":"1","op":"plan.amend","task_add":[)" + task + "]}"))
        .status()
        .message();
  };
  BOOST_TEST(add(R"({"id":"T-9","duration_ms":9223372036854775807})") ==
             "task_add[0].duration_ms: 9223372036854775807 is out of range (0 to 31622400000)");
  BOOST_TEST(add(R"({"id":"T-9","duration_ms":-1})") ==
             "task_add[0].duration_ms: -1 is out of range (0 to 31622400000)");
  BOOST_TEST(add(R"({"id":"T-9","predecessors":[{"task":"T-1","lag_ms":-31622400001}]})") ==
             "task_add[0].predecessors[0].lag_ms: -31622400001 is out of range (-31622400000 to "
             "31622400000)");
  BOOST_TEST(
      add(R"({"id":"T-9","planned_start_ms":1})").find("task_add[0].planned_start_ms: time 1") ==
      0);
  BOOST_TEST(add(R"({"id":"T-9","duration_ms":31622400000})").empty());
  auto change = ParsePlanAmendArgs(MustParse(
      R"({"v":1,"id":"1","op":"plan.amend","task_change":[{"task":"T-1","duration_ms":1e3}]})"));
  BOOST_TEST(change.status().message() ==
             "task_change[0].duration_ms: expected an integer, got 1000.0");
}

BOOST_AUTO_TEST_CASE(one_amendment_appends_at_most_a_bounded_number_of_events) {
  json remove = json::array();
  for (size_t i = 0; i <= kMaxAmendEntries; ++i) remove.push_back("T-" + std::to_string(i));
  const std::string many =
      MakeRequest("1", "plan.amend", {{"task_remove", remove}, {"task_add", json::array()}});
  BOOST_TEST(ParsePlanAmendArgs(MustParse(many)).status().message() ==
             "plan.amend: 1001 entries in task_add, task_change and task_remove, over the limit "
             "of 1000 per request (send several amendments)");
  remove.erase(remove.size() - 1);
  BOOST_TEST(
      ParsePlanAmendArgs(MustParse(MakeRequest("1", "plan.amend", {{"task_remove", remove}})))
          .ok());
  BOOST_TEST(
      ParsePlanAmendArgs(MustParse(R"({"v":1,"id":"1","op":"plan.amend",
                 "task_remove":["T-1","T-2","T-1"]})"))
          .status()
          .message() ==
      R"(task_remove[2]: task "T-1" is also named by task_remove[0] (one entry per task in an amendment))");
  BOOST_TEST(ParsePlanAmendArgs(MustParse(R"({"v":1,"id":"1","op":"plan.amend",
                 "task_add":[{"id":"T-5"}],"task_change":[{"task":"T-5","title":"x"}]})"))
                 .status()
                 .message()
                 .find(R"(task_change[0]: task "T-5" is also named by task_add[0])") == 0);
  json tasks = json::array();
  for (size_t i = 0; i <= kMaxPlanTasks; ++i) tasks.push_back({{"id", "T-" + std::to_string(i)}});
  BOOST_TEST(PlanFromJson(json{{"runbook_id", "rb"}, {"tasks", tasks}}).status().message() ==
             "plan.tasks: has 10001 entries, over the limit of 10000");
}

BOOST_AUTO_TEST_CASE(export_formats_and_watch_epochs_are_checked) {
  BOOST_TEST(ParseExportArgs(MustParse(R"({"v":1,"id":"1","op":"export","format":"csv"})"))
                 .status()
                 .message() == R"(field "format": "csv" is not one of json)");
  BOOST_TEST(ParseExportArgs(MustParse(R"({"v":1,"id":"1","op":"export","format":"json"})")).ok());
  BOOST_TEST(
      ParseWatchArgs(MustParse(R"({"v":1,"id":"1","op":"watch","epoch":"00FF00FF00FF00FF"})"))
          .status()
          .message()
          .find("is not an arrival epoch") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(plan_import_errors_name_the_path) {
  json plan = {{"runbook_id", "rb-1"},
               {"tasks", json::array({{{"id", "T-0"}},
                                      {{"id", "T-1"}},
                                      {{"id", "T-2"}},
                                      {{"id", "T-3"}, {"duration_ms", "2h"}}})}};
  Request req{"1", "plan.import", {{"plan", plan}}};
  auto r = ParsePlanImportArgs(req);
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().message() == R"(plan.tasks[3].duration_ms: expected an integer, got "2h")");

  plan["tasks"][3]["duration_ms"] = 60000;
  plan["tasks"][3]["predecessors"] = json::array({"T-0", {{"task", "T-1"}, {"type", "xx"}}});
  r = ParsePlanImportArgs(Request{"1", "plan.import", {{"plan", plan}}});
  BOOST_TEST(r.status().message() ==
             R"(plan.tasks[3].predecessors[1].type: "xx" is not one of fs, ss, ff, sf)");

  plan["tasks"][3]["predecessors"] = json::array({"T-0"});
  plan["tasks"][2]["id"] = "T-0";
  r = ParsePlanImportArgs(Request{"1", "plan.import", {{"plan", plan}}});
  BOOST_TEST(r.status().message() == R"(plan.tasks[2].id: "T-0" is also the id of plan.tasks[0])");

  plan["tasks"][2]["id"] = "T-2";
  plan["tasks"][1]["colour"] = "red";
  r = ParsePlanImportArgs(Request{"1", "plan.import", {{"plan", plan}}});
  BOOST_TEST(r.status().message().find("plan.tasks[1].colour: is not a known member") == 0);

  plan["tasks"][1].erase("colour");
  plan["window_start_ms"] = "2024-05-18T00:00:00+02:00";
  r = ParsePlanImportArgs(Request{"1", "plan.import", {{"plan", plan}}});
  BOOST_TEST_REQUIRE(r.ok(), r.status().ToString());
  BOOST_TEST(r->plan.window_start_ms == 1715983200000);
  BOOST_TEST(r->plan.tasks[3].predecessors.size() == 1u);
  BOOST_TEST((r->plan.tasks[3].predecessors[0].type == crdt::DependencyType::kFinishToStart));
}

BOOST_DATA_TEST_CASE(plan_json_round_trip_is_equal, boost::unit_test::data::xrange(0, 40), seed) {
  BOOST_TEST_CONTEXT("seed " << seed) {
    const crdt::Plan plan = RandomPlan(static_cast<uint32_t>(seed));
    const std::string text = ToJson(plan).dump();
    auto back = PlanFromJson(json::parse(text));
    BOOST_TEST_REQUIRE(back.ok(), back.status().ToString());
    BOOST_TEST((back.value() == plan));
  }
}

BOOST_AUTO_TEST_CASE(plan_amend_reads_additions_changes_and_removals) {
  auto r = ParsePlanAmendArgs(MustParse(R"({"v":1,"id":"1","op":"plan.amend",
      "window_end_ms":"2024-05-19T06:00:00Z",
      "task_add":[{"id":"T-100","title":"extra check","duration_ms":600000,"predecessors":["T-1"]}],
      "task_change":[{"task":"T-2","duration_ms":900000,"planned_start_ms":null}],
      "task_remove":["T-3"]})"));
  BOOST_TEST_REQUIRE(r.ok(), r.status().ToString());
  BOOST_TEST(!r->name.has_value());
  BOOST_TEST(*r->window_end_ms == 1716098400000);
  BOOST_TEST(r->task_add.at(0).id == "T-100");
  BOOST_TEST(r->task_change.at(0).task_id == "T-2");
  BOOST_TEST(*r->task_change[0].patch.duration_ms == 900000);
  BOOST_TEST(*r->task_change[0].patch.planned_start_ms == crdt::kNoTime);  // null clears.
  BOOST_TEST(!r->task_change[0].patch.title.has_value());
  BOOST_TEST(r->task_remove == std::vector<std::string>{"T-3"});

  auto empty = ParsePlanAmendArgs(MustParse(R"({"v":1,"id":"1","op":"plan.amend"})"));
  BOOST_TEST(empty.status().message().find("plan.amend changes nothing") == 0);
  auto bad = ParsePlanAmendArgs(MustParse(
      R"({"v":1,"id":"1","op":"plan.amend","task_change":[{"task":"T-2","titel":"x"}]})"));
  BOOST_TEST(bad.status().message().find("task_change[0].titel: is not a known member") == 0);
}

BOOST_AUTO_TEST_CASE(site_ops_check_the_id_key_role_and_endpoint) {
  const std::string key(64, 'a');
  auto add = ParseSiteAddArgs(MustParse(R"({"v":1,"id":"1","op":"site.add","site":"v1","key":")" +
                                        key + R"(","endpoint":"tcp://v1.example:7101"})"));
  BOOST_TEST_REQUIRE(add.ok(), add.status().ToString());
  BOOST_TEST(add->site.id == "v1");
  BOOST_TEST(add->site.public_key == std::string(32, '\xaa'));
  BOOST_TEST((add->site.role == crdt::SiteRole::kSite));  // The default.
  BOOST_TEST(add->site.name.empty());
  BOOST_TEST(add->site.endpoint == "tcp://v1.example:7101");
  auto manager = ParseSiteAddArgs(MustParse(
      R"({"v":1,"id":"1","op":"site.add","site":"hq-2","name":"HQ 2","role":"manager","key":")" +
      std::string(64, 'F') + R"("})"));
  BOOST_TEST_REQUIRE(manager.ok(), manager.status().ToString());
  BOOST_TEST((manager->site.role == crdt::SiteRole::kManager));
  BOOST_TEST(manager->site.name == "HQ 2");

  auto error = [](const std::string& args) {
    auto r = ParseSiteAddArgs(MustParse(R"({"v":1,"id":"1","op":"site.add",)" + args + "}"));
    BOOST_TEST_REQUIRE(!r.ok(), args);
    BOOST_TEST((r.status().code() == StatusCode::kInvalidArgument));
    return r.status().message();
  };
  const std::string k = R"("key":")" + key + R"(")";
  BOOST_TEST(error(k) == R"(field "site": is missing)");
  BOOST_TEST(error(R"("site":"v 1",)" + k) ==
             R"(field "site": "v 1" is not a site id (letters, digits, - _ . ; 1-64 chars))");
  BOOST_TEST(error(R"("site":")" + std::string(65, 'x') + R"(",)" + k).find("is not a site id") !=
             std::string::npos);
  BOOST_TEST(error(R"("site":"v1")") == R"(field "key": is missing)");
  BOOST_TEST(error(R"("site":"v1","key":"abcd")") ==
             R"(field "key": expected the site's Ed25519 public key as 64 hex digits )"
             R"((`batond init` prints it), got 4 characters)");
  BOOST_TEST(error(R"("site":"v1","key":")" + std::string(62, 'a') + R"(zz")") ==
             R"(field "key": "zz" is not hex)");
  BOOST_TEST(error(R"("site":"v1","role":"boss",)" + k) ==
             R"(field "role": "boss" is not one of manager, site, observer)");
  BOOST_TEST(error(R"("site":"v1","endpoint":"http://x:1",)" + k) ==
             R"(field "endpoint": "http://x:1" is not a peer endpoint tcp://HOST:PORT)");
  BOOST_TEST(error(R"("site":"v1","endpoint":"tcp://host",)" + k).find("tcp://HOST:PORT") !=
             std::string::npos);

  auto remove =
      ParseSiteRemoveArgs(MustParse(R"({"v":1,"id":"1","op":"site.remove","site":"v1"})"));
  BOOST_TEST_REQUIRE(remove.ok());
  BOOST_TEST(remove->site == "v1");
  auto bad_remove =
      ParseSiteRemoveArgs(MustParse(R"({"v":1,"id":"1","op":"site.remove","site":""})"));
  BOOST_TEST(bad_remove.status().message().find(R"(field "site": "" is not a site id)") == 0);
  BOOST_TEST(ErrorOf(R"({"v":1,"id":"1","op":"site.list","site":"v1"})") ==
             R"(field "site": is not an argument of site.list (it takes none))");
  BOOST_TEST(ValidSiteId("vendor-de.eu_1"));
  BOOST_TEST(!ValidSiteId("vendor/de"));
  BOOST_TEST(std::string(SiteRoleName(crdt::SiteRole::kObserver)) == "observer");
}

BOOST_AUTO_TEST_CASE(iso_times_parse_with_offsets_and_format_back) {
  BOOST_TEST(ParseIsoTime("2024-05-18T02:10:00Z").value() == 1715998200000);
  BOOST_TEST(ParseIsoTime("2024-05-18T04:10+02:00").value() == 1715998200000);
  BOOST_TEST(ParseIsoTime("2024-05-17T21:10:00.5-0500").value() == 1715998200500);
  BOOST_TEST(ParseIsoTime("1969-12-31T23:59:59.500Z").value() == -500);
  BOOST_TEST(!ParseIsoTime("2024-02-30T00:00Z").ok());
  BOOST_TEST(!ParseIsoTime("2024-05-18T25:00Z").ok());
  BOOST_TEST(!ParseIsoTime("2024-05-18T02:10:00Zjunk").ok());
  BOOST_TEST(FormatIsoTime(1715998200500) == "2024-05-18T02:10:00.500Z");
  BOOST_TEST(FormatIsoTime(-500) == "1969-12-31T23:59:59.500Z");
  BOOST_TEST(ParseIsoTime(FormatIsoTime(1715998200123)).value() == 1715998200123);
}

BOOST_AUTO_TEST_CASE(replies_and_pushes_parse_back) {
  auto ok = ParseServerMessage(MakeOk("7", {{"n", 3}}));
  BOOST_TEST_REQUIRE(ok.ok());
  BOOST_TEST(ok->id == "7");
  BOOST_TEST(!ok->is_push());
  BOOST_TEST(ok->status.ok());
  BOOST_TEST(ok->result["n"] == 3);

  for (StatusCode code :
       {StatusCode::kInvalidArgument, StatusCode::kNotFound, StatusCode::kRejected,
        StatusCode::kUnavailable, StatusCode::kCorruption, StatusCode::kIOError}) {
    const Status s(code, "task \"T-999\" is not in the plan");
    auto err = ParseServerMessage(MakeError("8", s));
    BOOST_TEST_REQUIRE(err.ok());
    BOOST_TEST((err->status == s));
  }
  BOOST_TEST(json::parse(MakeError("", Status::NotFound("x")))["id"].is_null());
  BOOST_TEST(json::parse(MakeError("", Status::NotFound("x")))["error"]["code"] == "not_found");

  auto push = ParseServerMessage(MakeEventPush("9", 42, {{"id", "hq/1"}}));
  BOOST_TEST_REQUIRE(push.ok());
  BOOST_TEST(push->is_push());
  BOOST_TEST(push->stream == "event");
  BOOST_TEST(push->cursor == 42u);
  BOOST_TEST(push->event["id"] == "hq/1");
  // Around an event serialised once: the same bytes.
  const json event = {{"id", "hq/1"}, {"note", "\"quoted\" \u00e9"}, {"n", 3}};
  BOOST_TEST(MakeEventPushText("w\"1", 42, event.dump()) == MakeEventPush("w\"1", 42, event));
  auto beat = ParseServerMessage(MakeHeartbeat("9", 43));
  BOOST_TEST_REQUIRE(beat.ok());
  BOOST_TEST(beat->stream == "heartbeat");
  BOOST_TEST(beat->cursor == 43u);

  BOOST_TEST((ParseServerMessage("{}").status().code() == StatusCode::kCorruption));
  BOOST_TEST((ParseServerMessage("nope").status().code() == StatusCode::kCorruption));

  const std::string request = MakeRequest("5", "report", {{"task", "T-1"}, {"kind", "done"}});
  auto parsed = ParseRequest(request);
  BOOST_TEST_REQUIRE(parsed.ok());
  BOOST_TEST(parsed->args == json({{"task", "T-1"}, {"kind", "done"}}));
}

BOOST_AUTO_TEST_CASE(events_of_every_body_kind_become_json) {
  crdt::Event base;
  base.runbook_id = "rb-1";
  base.origin = "hq";
  base.seq = 12;
  base.hlc = crdt::Hlc{1715998200000, 3};
  base.prev_hash[0] = 0xab;
  base.actor = "alice@hq";

  crdt::TaskPatch patch;
  patch.title = "new title";
  patch.planned_start_ms = crdt::kNoTime;
  const std::vector<std::pair<crdt::Body, std::string>> cases = {
      {crdt::PlanDefined{RandomPlan(1), {crdt::EventId{"hq", 3}}, {}}, "plan_defined"},
      {crdt::PlanAmended{"new name", std::nullopt, 1716098400000, {}}, "plan_amended"},
      {crdt::TaskAdded{RandomPlan(2).tasks.empty() ? crdt::TaskSpec{} : RandomPlan(2).tasks[0]},
       "task_added"},
      {crdt::TaskChanged{"T-1", patch, {crdt::EventId{"vendor-de", 4}}}, "task_changed"},
      {crdt::TaskRemoved{"T-2"}, "task_removed"},
      {crdt::TaskReported{"T-42", crdt::ReportKind::kFailed, 1715998200000, "disk full", {}},
       "task_reported"},
      {crdt::NoteAdded{"", "all hands call at 02:00"}, "note_added"},
      {crdt::GateDecided{"G-1", false, crdt::kNoTime, "rollback", {}}, "gate_decided"},
  };
  for (const auto& [body, kind] : cases) {
    BOOST_TEST_CONTEXT("kind " << kind) {
      crdt::Event event = base;
      event.body = body;
      const json j = ToJson(event);
      BOOST_TEST(j["id"] == "hq/12");
      BOOST_TEST(j["kind"] == kind);
      BOOST_TEST(j["actor"] == "alice@hq");
      BOOST_TEST(j["hlc"]["wall_ms"] == 1715998200000);
      BOOST_TEST(j["hlc"]["logical"] == 3);
      BOOST_TEST(j["prev_hash"].get<std::string>().substr(0, 4) == "ab00");
      BOOST_TEST(j["body"].is_object());
    }
  }
  crdt::Event event = base;
  event.body = cases[5].first;
  const json reported = ToJson(event)["body"];
  BOOST_TEST(reported["report"] == "fail");
  BOOST_TEST(reported["effective_ms"] == 1715998200000);
  event.body = cases[3].first;
  const json changed = ToJson(event)["body"];
  BOOST_TEST(changed["patch"]["planned_start_ms"].is_null());
  BOOST_TEST(changed["supersedes"][0] == "vendor-de/4");
  event.body = cases[7].first;
  BOOST_TEST(ToJson(event)["body"]["decision"] == "no-go");
  event.body = cases[0].first;
  BOOST_TEST((PlanFromJson(ToJson(event)["body"]["plan"]).value() == RandomPlan(1)));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace baton::client
