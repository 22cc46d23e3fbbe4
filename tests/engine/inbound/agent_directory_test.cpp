// agent_directory_test.cpp: the agent directory (inbound/agent_directory.h)
// over an in-process adapter whose user list the test sets: matches by the
// platform id the CRM holds and by e-mail, inbound.agent_map winning, inactive
// users never matched, the TTL on a ManualClock, failed and unsupported
// lists, and unmatched agents reported (counter always, log rate-limited,
// ids only).
#include <doctest/doctest.h>

#include <Poco/Channel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>

#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/logging.h"
#include "crmsync/adapter.h"
#include "inbound/agent_directory.h"
#include "metrics/metrics.h"
#include "plugin_host/guarded_adapter.h"

namespace crmsync::engine {
namespace {

constexpr int64_t kTtlMs = 60000;

// A CRM whose users the test sets; counts ListUsers() calls. It maps nothing.
class UsersCrm : public Adapter {
 public:
  PluginInfo Info() const override { return PluginInfo{"users-crm", "1", "", {}}; }
  Status Configure(const PluginConfig&) override { return Status::Ok(); }
  Mapper& mapping() override { throw std::logic_error("not used"); }
  Transport& transport() override { throw std::logic_error("not used"); }
  Status ListUsers(std::vector<CrmUser>* users) override {
    if (before_list) before_list();
    std::lock_guard<std::mutex> lock(mu);
    ++calls;
    if (!answer.ok()) return answer;
    *users = list;
    return Status::Ok();
  }

  std::function<void()> before_list;  // runs outside mu, e.g. to hold a read open
  std::mutex mu;
  std::vector<CrmUser> list;
  Status answer = Status::Ok();
  int calls = 0;
};

CrmUser User(const std::string& id, const std::string& email, const std::string& platform_id,
             bool active = true) {
  CrmUser user;
  user.id = id;
  user.email = email;
  user.platform_id = platform_id;
  user.active = active;
  return user;
}

AgentDirectoryConfig Config(const std::vector<std::string>& agent_map,
                            const std::vector<std::string>& emails) {
  AgentDirectoryConfig config;
  std::string error;
  REQUIRE_MESSAGE(AgentDirectory::ParsePairs(agent_map, &config.agent_map, &error), error);
  REQUIRE_MESSAGE(AgentDirectory::ParseEmails(emails, &config.dealer_emails, &error), error);
  config.ttl_ms = kTtlMs;
  return config;
}

struct DirectoryRig {
  explicit DirectoryRig(const std::vector<std::string>& agent_map = {},
                        const std::vector<std::string>& emails = {})
      : guarded(&crm, "users-crm"), directory(Config(agent_map, emails), &guarded, &clock, &metrics) {}
  int64_t Unmatched(const std::string& direction) {
    return metrics.CounterValue("crmsync_agents_unmatched_total", {{"direction", direction}});
  }
  UsersCrm crm;
  GuardedAdapter guarded;
  ManualClock clock;
  MetricsRegistry metrics;
  AgentDirectory directory;
};

// Keeps what the "agents" logger writes while it lives.
class AgentsLog : public Poco::Channel {
 public:
  AgentsLog() : logger_(ComponentLogger("agents")), old_(logger_.getChannel()) {}
  void Attach() { logger_.setChannel(Poco::Channel::Ptr(this, true)); }
  void Detach() { logger_.setChannel(old_); }
  void log(const Poco::Message& message) override {
    std::lock_guard<std::mutex> lock(mu_);
    lines.push_back(message.getText());
  }
  std::vector<std::string> lines;

 private:
  Poco::Logger& logger_;
  Poco::Channel::Ptr old_;
  std::mutex mu_;
};

TEST_SUITE("engine.inbound") {
  TEST_CASE("agent directory: a dealer matches the CRM user holding its platform id, both ways") {
    DirectoryRig rig;
    rig.crm.list = {User("u-1", "asha@acme.example", "dealer-7"), User("u-2", "", "dealer-9")};
    CHECK(rig.directory.UserFor("dealer-7") == std::optional<std::string>("u-1"));
    CHECK(rig.directory.UserFor("dealer-9") == std::optional<std::string>("u-2"));
    CHECK(rig.directory.DealerFor("u-1") == std::optional<std::string>("dealer-7"));
    CHECK_FALSE(rig.directory.UserFor("dealer-8").has_value());
    CHECK_FALSE(rig.directory.DealerFor("u-3").has_value());
    CHECK(rig.crm.calls == 1);  // one list serves every look-up within the TTL
  }

  TEST_CASE("agent directory: one thread reads an expired list, the others use the old table") {
    DirectoryRig rig;
    rig.crm.list = {User("u-1", "", "dealer-7")};
    REQUIRE(rig.directory.UserFor("dealer-7") == std::optional<std::string>("u-1"));
    REQUIRE(rig.crm.calls == 1);
    rig.clock.Advance(kTtlMs);
    std::promise<void> reading;
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    rig.crm.before_list = [&] {
      reading.set_value();
      released.wait();
    };
    std::thread refresher([&] { rig.directory.UserFor("dealer-7"); });
    reading.get_future().wait();  // the refresher is inside ListUsers now
    // Another worker at the same moment: no second read, the old table answers.
    CHECK(rig.directory.UserFor("dealer-7") == std::optional<std::string>("u-1"));
    CHECK(rig.directory.DealerFor("u-1") == std::optional<std::string>("dealer-7"));
    release.set_value();
    refresher.join();
    CHECK(rig.crm.calls == 2);
  }

  TEST_CASE("agent directory: by e-mail (any case) when no user carries the dealer id") {
    DirectoryRig rig({}, {"dealer-7=Asha@Acme.example", "dealer-8=ravi@acme.example"});
    rig.crm.list = {User("u-1", "ASHA@acme.EXAMPLE", ""), User("u-2", "ravi@acme.example", ""),
                    // A user tagged with dealer-8's id wins over the e-mail match.
                    User("u-3", "other@acme.example", "dealer-8")};
    CHECK(rig.directory.UserFor("dealer-7") == std::optional<std::string>("u-1"));
    CHECK(rig.directory.DealerFor("u-1") == std::optional<std::string>("dealer-7"));
    CHECK(rig.directory.UserFor("dealer-8") == std::optional<std::string>("u-3"));
    CHECK(rig.directory.DealerFor("u-3") == std::optional<std::string>("dealer-8"));
    CHECK_FALSE(rig.directory.DealerFor("u-2").has_value());
  }

  TEST_CASE("agent directory: inbound.agent_map pairs win over the CRM's list, both ways") {
    DirectoryRig rig({"agent_123=dealer-7"}, {"dealer-7=asha@acme.example"});
    rig.crm.list = {User("u-1", "asha@acme.example", "dealer-7")};
    CHECK(rig.directory.UserFor("dealer-7") == std::optional<std::string>("agent_123"));
    CHECK(rig.directory.DealerFor("agent_123") == std::optional<std::string>("dealer-7"));
    CHECK(rig.crm.calls == 0);  // configuration answered: the CRM was not asked
  }

  TEST_CASE("agent directory: an inactive user is never matched") {
    DirectoryRig rig({}, {"dealer-7=asha@acme.example"});
    rig.crm.list = {User("u-1", "asha@acme.example", "", false),
                    User("u-2", "", "dealer-9", false)};
    CHECK_FALSE(rig.directory.UserFor("dealer-7").has_value());
    CHECK_FALSE(rig.directory.UserFor("dealer-9").has_value());
    CHECK_FALSE(rig.directory.DealerFor("u-1").has_value());
    CHECK_FALSE(rig.directory.DealerFor("u-2").has_value());
  }

  TEST_CASE("agent directory: the list is read again once older than the TTL") {
    DirectoryRig rig;
    rig.crm.list = {User("u-1", "", "dealer-7")};
    CHECK(rig.directory.UserFor("dealer-7") == std::optional<std::string>("u-1"));
    rig.crm.list = {User("u-2", "", "dealer-7", true), User("u-1", "", "dealer-7", false)};
    rig.clock.Advance(kTtlMs - 1);
    CHECK(rig.directory.UserFor("dealer-7") == std::optional<std::string>("u-1"));
    CHECK(rig.crm.calls == 1);
    rig.clock.Advance(1);
    CHECK(rig.directory.UserFor("dealer-7") == std::optional<std::string>("u-2"));
    CHECK_FALSE(rig.directory.DealerFor("u-1").has_value());  // deactivated since
    CHECK(rig.crm.calls == 2);
  }

  TEST_CASE("agent directory: a failed list keeps the last table and is asked again after the TTL") {
    DirectoryRig rig;
    rig.crm.list = {User("u-1", "", "dealer-7")};
    CHECK(rig.directory.UserFor("dealer-7").has_value());
    rig.crm.answer = Status::Retryable("HTTP 503");
    rig.clock.Advance(kTtlMs);
    CHECK(rig.directory.UserFor("dealer-7") == std::optional<std::string>("u-1"));
    CHECK(rig.directory.UserFor("dealer-7") == std::optional<std::string>("u-1"));
    CHECK(rig.crm.calls == 2);  // not once per look-up while it fails
    rig.crm.answer = Status::Ok();
    rig.crm.list = {};
    rig.clock.Advance(kTtlMs);
    CHECK_FALSE(rig.directory.UserFor("dealer-7").has_value());
    CHECK(rig.crm.calls == 3);
  }

  TEST_CASE("agent directory: a plugin that cannot list users is asked once per TTL, config works") {
    DirectoryRig rig({"agent_1=dealer-1"});
    rig.crm.answer = Status::NotFound("no user list");
    CHECK_FALSE(rig.directory.UserFor("dealer-7").has_value());
    CHECK_FALSE(rig.directory.DealerFor("u-1").has_value());
    CHECK(rig.directory.UserFor("dealer-1") == std::optional<std::string>("agent_1"));
    CHECK(rig.crm.calls == 1);  // not once per look-up
    // A 404 to the list (a wrong path, fixed since) is not final: after the
    // TTL the list is read again and matches.
    rig.clock.Advance(kTtlMs);
    rig.crm.answer = Status::Ok();
    rig.crm.list = {User("u-1", "", "dealer-7")};
    CHECK(rig.directory.UserFor("dealer-7") == std::optional<std::string>("u-1"));
    CHECK(rig.crm.calls == 2);
  }

  TEST_CASE("agent directory: unmatched agents are counted always and logged once a minute") {
    DirectoryRig rig;
    Poco::Channel::Ptr channel(new AgentsLog());
    AgentsLog& log = static_cast<AgentsLog&>(*channel);
    log.Attach();
    rig.directory.ReportUnmatched("outbound", "dealer-99", "lead:42");
    rig.directory.ReportUnmatched("outbound", "dealer-98", "lead:43");
    rig.directory.ReportUnmatched("inbound", "u-77", "delivery d-1");
    rig.clock.Advance(60000);
    rig.directory.ReportUnmatched("outbound", "dealer-97", "lead:44");
    log.Detach();
    CHECK(rig.Unmatched("outbound") == 3);
    CHECK(rig.Unmatched("inbound") == 1);
    REQUIRE(log.lines.size() == 3u);
    CHECK(log.lines[0].find("dealer-99") != std::string::npos);
    CHECK(log.lines[0].find("lead:42") != std::string::npos);
    CHECK(log.lines[1].find("u-77") != std::string::npos);
    CHECK(log.lines[2].find("dealer-97") != std::string::npos);
    CHECK(log.lines[2].find("1 more") != std::string::npos);
  }

  TEST_CASE("agent directory: ParseEmails refuses bad pairs by name, never quoting the e-mail") {
    std::map<std::string, std::string> out;
    std::string error;
    for (const char* bad : {"dealer-7", "=asha@acme.example", "dealer-7=", "dealer-7=asha",
                                   "dealer-7=@acme.example", "dealer-7=asha@"}) {
      CAPTURE(bad);
      error.clear();
      CHECK_FALSE(AgentDirectory::ParseEmails({bad}, &out, &error));
      CHECK(error.find("inbound.agent_emails") != std::string::npos);
      CHECK(error.find("is not dealer=e-mail") != std::string::npos);
      CHECK(error.find("asha@acme.example") == std::string::npos);
    }
    error.clear();
    CHECK_FALSE(AgentDirectory::ParseEmails({"d-1=asha@acme.example", "d-2=ASHA@acme.example"},
                                            &out, &error));
    CHECK(error.find("'d-1' and 'd-2' have the same e-mail") != std::string::npos);
    CHECK(error.find("asha") == std::string::npos);
    out.clear();
    CHECK(AgentDirectory::ParseEmails({"d-1=Asha@Acme.example", "d-1=asha@acme.example"}, &out,
                                      &error));
    CHECK(out == std::map<std::string, std::string>{{"d-1", "asha@acme.example"}});
  }
}

}  // namespace
}  // namespace crmsync::engine
