// Key encodings of the event store; the layouts are described in keys.h.
#include "daemon/store/keys.h"

namespace baton::store {

Status CheckOrigin(std::string_view origin) {
  if (origin.empty()) return Status::InvalidArgument("event origin is empty");
  if (origin.size() > kMaxOriginLength) {
    return Status::InvalidArgument("event origin '" + std::string(origin.substr(0, 32)) +
                                   "...' is longer than " + std::to_string(kMaxOriginLength) +
                                   " bytes");
  }
  return Status::Ok();
}

void PutBigEndian64(std::string* out, uint64_t value) {
  char bytes[8];
  for (int i = 7; i >= 0; --i) {
    bytes[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  out->append(bytes, sizeof(bytes));
}

bool GetBigEndian64(std::string_view in, uint64_t* value) {
  if (in.size() < 8) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  *value = v;
  return true;
}

std::string OriginPrefix(std::string_view origin) {
  std::string key;
  key.reserve(1 + origin.size() + 8);
  key.push_back(static_cast<char>(static_cast<uint8_t>(origin.size())));
  key.append(origin);
  return key;
}

std::string EventKey(std::string_view origin, uint64_t seq) {
  std::string key = OriginPrefix(origin);
  PutBigEndian64(&key, seq);
  return key;
}

size_t ParseEventKey(std::string_view key, crdt::EventId* id) {
  if (key.empty()) return 0;
  const size_t origin_size = static_cast<uint8_t>(key[0]);
  const size_t total = 1 + origin_size + 8;
  if (origin_size == 0 || key.size() < total) return 0;
  id->origin.assign(key.substr(1, origin_size));
  if (!GetBigEndian64(key.substr(1 + origin_size), &id->seq)) return 0;
  return total;
}

std::string ArrivalKey(uint64_t counter) {
  std::string key;
  PutBigEndian64(&key, counter);
  return key;
}

bool ParseArrivalKey(std::string_view key, uint64_t* counter) {
  return key.size() == 8 && GetBigEndian64(key, counter);
}

std::string HeadKey(std::string_view origin) {
  std::string key(kMetaHeadPrefix);
  key.append(origin);
  return key;
}

}  // namespace baton::store
