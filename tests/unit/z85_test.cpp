#include "common/z85.h"

#include <catch2/catch.hpp>

using namespace webim;

TEST_CASE("Z85 encodes and decodes the RFC 32 test vector", "[z85]") {
  const std::string bytes("\x86\x4F\xD2\x6F\xB5\x59\xF7\x5B", 8);
  CHECK(z85Encode(bytes) == "HelloWorld");
  CHECK(z85Decode("HelloWorld") == bytes);
}

TEST_CASE("Z85 round-trips CURVE keys", "[z85]") {
  for (const char* key : {"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
                          "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"}) {
    std::optional<std::string> binary = z85Decode(key);
    REQUIRE(binary);
    CHECK(binary->size() == 32);
    CHECK(z85Encode(*binary) == key);
  }
}

TEST_CASE("Z85 refuses bad lengths, characters and overflowing groups", "[z85]") {
  CHECK_FALSE(z85Encode("abc"));
  CHECK_FALSE(z85Decode("Hello"
                        "Worl"));
  CHECK_FALSE(z85Decode("Hello\"orld"));
  CHECK_FALSE(z85Decode("#0000"));  // 84 * 85^4 > 2^32 - 1: no key starts with '#'
  CHECK(z85Decode("%nSc0") == std::string(4, '\xff'));  // the largest group
  CHECK(z85Encode("") == "");
  CHECK(z85Decode("") == "");
}
