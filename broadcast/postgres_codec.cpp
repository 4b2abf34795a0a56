#include "broadcast/postgres_codec.h"

#include "broadcast/store_bytes.h"

namespace webim::hub::pg {

void ArrayParam::addInt8(uint64_t v) {
  putBe32(body_, 8);
  putBe64(body_, v);
  ++count_;
}

void ArrayParam::addBytes(std::string_view v) {
  putBe32(body_, static_cast<uint32_t>(v.size()));
  body_.append(v);
  ++count_;
}

const std::string& ArrayParam::finish() {
  std::string header;
  putBe32(header, count_ == 0 ? 0 : 1);  // ndim
  putBe32(header, 0);                    // no NULLs
  putBe32(header, element_);
  if (count_ != 0) {
    putBe32(header, count_);  // dimension
    putBe32(header, 1);       // lower bound
  }
  encoded_ = header + body_;
  return encoded_;
}

void Params::addInt8(uint64_t v) {
  std::string s;
  putBe64(s, v);
  storage.push_back(std::move(s));
}

std::vector<const char*> Params::values() const {
  std::vector<const char*> out;
  out.reserve(storage.size());
  for (const auto& s : storage) out.push_back(s.data());
  return out;
}

std::vector<int> Params::lengths() const {
  std::vector<int> out;
  out.reserve(storage.size());
  for (const auto& s : storage) out.push_back(static_cast<int>(s.size()));
  return out;
}

}  // namespace webim::hub::pg
