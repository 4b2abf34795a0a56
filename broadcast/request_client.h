// `webim-broadcast request`: one JSON request to a hub's app ingress, for operators and tests.
#pragma once

#include <cstddef>

#include "broadcast/hub_config.h"

namespace webim::hub {

inline constexpr int kExitRequestTimeout = 1;
inline constexpr int kExitRequestRefused = 3;  // answered, with {"ok":false,...}
inline constexpr size_t kBatchWindow = 256;  // batch mode: requests in flight at once

// Sends options.json on a DEALER (after an empty delimiter frame, as a REQ would), prints the
// reply body to stdout and returns 0, or 3 when the reply is {"ok":false,...}; on timeout prints a
// message to stderr and returns 1.
// options.json == "-" (batch mode): one request per stdin line (blank lines skipped), pipelined
// over one DEALER with up to kBatchWindow in flight, each reply printed as one line in input
// order; returns 1 with a message naming the request when one is not answered within timeoutMs
// of being sent (the replies before it are printed), else 3 when any reply was ok:false, else 0.
int runRequest(const RequestOptions& options);
// Prints (or writes) a new CURVE key pair; 0 on success.
int runKeygen(const KeygenOptions& options);

}  // namespace webim::hub
