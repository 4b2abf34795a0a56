#include "broadcast/peer_auth.h"

#include <catch2/catch.hpp>

#include "common/z85.h"

using namespace webim;
using namespace webim::hub;

namespace {

const std::string kFrontendKey = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
const std::string kAppKey = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
const std::string kOtherKey = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";

std::shared_ptr<const AllowList> listOf(const std::string& text) {
  std::string error;
  std::optional<AllowList> list = AllowList::parse(text, error);
  INFO(error);
  REQUIRE(list);
  return std::make_shared<const AllowList>(std::move(*list));
}

ZapRequest curveRequest(std::string_view domain, const std::string& z85Key) {
  ZapRequest r;
  r.version = "1.0";
  r.requestId = "7";
  r.domain = domain;
  r.address = "127.0.0.1";
  r.mechanism = "CURVE";
  r.credentials.push_back(*z85Decode(z85Key));
  return r;
}

}  // namespace

TEST_CASE("allow-list: one key per line, comments, blanks", "[peer_auth]") {
  auto list = listOf("# frontends of host a\n\n" + kFrontendKey + "   # fe0\r\n  " + kAppKey + "\n" + kOtherKey +
                     "\n#" + kFrontendKey + "\n");
  CHECK(list->size() == 3);
  CHECK(list->contains(*z85Decode(kFrontendKey)));
  CHECK(list->contains(*z85Decode(kAppKey)));
  CHECK(list->contains(*z85Decode(kOtherKey)));
  CHECK(listOf(kAppKey)->size() == 1);           // no final newline
  CHECK(listOf(kAppKey + "\n" + kAppKey + "\n")->size() == 1);
}

TEST_CASE("allow-list: anything else is an error naming the line", "[peer_auth]") {
  std::string error;
  CHECK_FALSE(AllowList::parse("# only comments\n\n", error));
  CHECK(error == "holds no key");
  CHECK_FALSE(AllowList::parse(kFrontendKey + "\n" + kAppKey.substr(1) + "\n", error));
  CHECK(error.rfind("line 2: not a 40-character Z85 public key", 0) == 0);
  CHECK_FALSE(AllowList::parse(kFrontendKey + " fe0\n", error));  // a trailing note needs '#'
  CHECK(error.rfind("line 1:", 0) == 0);
  CHECK_FALSE(AllowList::parse("public " + kFrontendKey + "\n", error));
  CHECK_FALSE(AllowList::parse(std::string(40, '"') + "\n", error));  // not Z85
  CHECK_FALSE(AllowList::parse(std::string(40, '$') + "\n", error));  // Z85 characters, but not a key
}

TEST_CASE("ZAP requests are decoded from RFC 27 frames", "[peer_auth]") {
  std::string error, id;
  const std::string key = *z85Decode(kFrontendKey);
  std::optional<ZapRequest> r = decodeZapRequest({"1.0", "42", "hub_ingress", "10.0.0.7", "", "CURVE", key}, error, id);
  REQUIRE(r);
  CHECK(id == "42");
  CHECK(r->requestId == "42");
  CHECK(r->domain == "hub_ingress");
  CHECK(r->address == "10.0.0.7");
  CHECK(r->mechanism == "CURVE");
  REQUIRE(r->credentials.size() == 1);
  CHECK(r->credentials[0] == key);

  CHECK_FALSE(decodeZapRequest({"1.0", "43", "hub_ingress"}, error, id));
  CHECK(id == "43");
  CHECK(error.find("6 frames") != std::string::npos);
  CHECK_FALSE(decodeZapRequest({"2.0", "44", "d", "a", "", "NULL"}, error, id));
  CHECK(id == "44");
  CHECK_FALSE(decodeZapRequest({}, error, id));
  CHECK(id.empty());
}

TEST_CASE("ZAP decisions: each socket admits only its own list", "[peer_auth]") {
  PeerLists lists{listOf(kFrontendKey), listOf(kAppKey)};
  for (std::string_view domain : {kZapDomainIngress, kZapDomainPub}) {
    ZapDecision ok = decideZap(curveRequest(domain, kFrontendKey), lists);
    CHECK(ok.admitted);
    CHECK(ok.statusCode == "200");
    CHECK(ok.userId == kFrontendKey);
    ZapDecision app = decideZap(curveRequest(domain, kAppKey), lists);
    CHECK_FALSE(app.admitted);
    CHECK(app.statusCode == "400");
    CHECK(app.clientKey == kAppKey);
    CHECK(app.userId.empty());
  }
  CHECK(decideZap(curveRequest(kZapDomainApp, kAppKey), lists).admitted);
  CHECK_FALSE(decideZap(curveRequest(kZapDomainApp, kFrontendKey), lists).admitted);
  CHECK_FALSE(decideZap(curveRequest(kZapDomainApp, kOtherKey), lists).admitted);
  CHECK_FALSE(decideZap(curveRequest("elsewhere", kAppKey), lists).admitted);
}

TEST_CASE("ZAP decisions: no list admits any CURVE client; other mechanisms never", "[peer_auth]") {
  PeerLists lists{listOf(kFrontendKey), nullptr};
  CHECK(decideZap(curveRequest(kZapDomainApp, kOtherKey), lists).admitted);
  CHECK_FALSE(decideZap(curveRequest(kZapDomainPub, kOtherKey), lists).admitted);
  ZapRequest plain = curveRequest(kZapDomainApp, kOtherKey);
  plain.mechanism = "NULL";
  plain.credentials.clear();
  CHECK_FALSE(decideZap(plain, lists).admitted);
  ZapRequest shortKey = curveRequest(kZapDomainApp, kOtherKey);
  shortKey.credentials[0].pop_back();
  ZapDecision d = decideZap(shortKey, lists);
  CHECK_FALSE(d.admitted);
  CHECK(d.clientKey.empty());
}

TEST_CASE("ZAP replies are the six RFC 27 frames", "[peer_auth]") {
  PeerLists lists{listOf(kFrontendKey), listOf(kAppKey)};
  std::vector<std::string> ok = encodeZapReply("9", decideZap(curveRequest(kZapDomainApp, kAppKey), lists));
  CHECK(ok == std::vector<std::string>{"1.0", "9", "200", "OK", kAppKey, ""});
  std::vector<std::string> no = encodeZapReply("10", decideZap(curveRequest(kZapDomainApp, kOtherKey), lists));
  REQUIRE(no.size() == 6);
  CHECK(no[2] == "400");
  CHECK(no[4].empty());
}

TEST_CASE("refusal log: the first line at once, then one per interval counting the rest", "[peer_auth]") {
  using namespace std::chrono_literals;
  RefusalLog log(10s);
  const auto t0 = RefusalLog::Clock::time_point{} + 1000s;
  CHECK(log.refused(t0, "a") == "a");
  CHECK_FALSE(log.flush(t0 + 1s));  // nothing held
  for (int i = 0; i < 1000; ++i) CHECK_FALSE(log.refused(t0 + 1s, "b" + std::to_string(i)));
  CHECK_FALSE(log.flush(t0 + 9s));
  CHECK(log.flush(t0 + 10s) == "1000 more refused since the previous line, the last: b999");
  CHECK_FALSE(log.flush(t0 + 30s));
  CHECK_FALSE(log.refused(t0 + 15s, "c"));  // within the interval of the flushed line
  CHECK(log.refused(t0 + 21s, "d") == "d (and 1 more refused since the previous line, the last: c)");
  CHECK(log.refused(t0 + 40s, "e") == "e");
}
