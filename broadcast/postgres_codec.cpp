#include "broadcast/postgres_codec.h"

#include "common/big_endian.h"

namespace webim::hub::pg {

void ArrayParam::addInt8(uint64_t v) {
  appendBigEndian<uint32_t>(body_, 8);
  appendBigEndian<uint64_t>(body_, v);
  ++count_;
}

void ArrayParam::addBytes(std::string_view v) {
  appendBigEndian<uint32_t>(body_, static_cast<uint32_t>(v.size()));
  body_.append(v);
  ++count_;
}

const std::string& ArrayParam::finish() {
  std::string header;
  appendBigEndian<uint32_t>(header, count_ == 0 ? 0 : 1);  // ndim
  appendBigEndian<uint32_t>(header, 0);                    // no NULLs
  appendBigEndian<uint32_t>(header, element_);
  if (count_ != 0) {
    appendBigEndian<uint32_t>(header, count_);  // dimension
    appendBigEndian<uint32_t>(header, 1);       // lower bound
  }
  encoded_ = header + body_;
  return encoded_;
}

void Params::addInt8(uint64_t v) {
  std::string s;
  appendBigEndian<uint64_t>(s, v);
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
