// PostgreSQL's binary parameter formats, as the PostgreSQL store sends them (pure: no I/O, no
// libpq). Every parameter and result column is binary: int8 is 8 bytes big-endian, text and bytea
// are their bytes, and an array is PostgreSQL's binary array format (array_send):
//   ndim(4) has_nulls(4) element_oid(4) [dim(4) lower_bound(4)] then per element len(4) bytes
// with ndim 0 and no dimension for an empty array.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace webim::hub::pg {

// Type OIDs (pg_type.dat; fixed since forever). The same values as libpq's Oid.
constexpr uint32_t kByteaOid = 17;
constexpr uint32_t kInt8Oid = 20;
constexpr uint32_t kTextOid = 25;
constexpr uint32_t kTextArrayOid = 1009;
constexpr uint32_t kByteaArrayOid = 1001;
constexpr uint32_t kInt8ArrayOid = 1016;

// A one-dimensional array parameter without NULLs. Add elements, then finish() (callable again;
// it re-encodes, so later additions are included).
class ArrayParam {
 public:
  explicit ArrayParam(uint32_t element) : element_(element) {}
  void addInt8(uint64_t v);
  void addBytes(std::string_view v);  // text or bytea
  const std::string& finish();
  uint32_t size() const { return count_; }

 private:
  uint32_t element_;
  uint32_t count_ = 0;
  std::string body_;
  std::string encoded_;
};

// The parameters of one statement, in order.
struct Params {
  std::vector<std::string> storage;
  void add(std::string value) { storage.push_back(std::move(value)); }
  void addInt8(uint64_t v);
  std::vector<const char*> values() const;
  std::vector<int> lengths() const;
};

}  // namespace webim::hub::pg
