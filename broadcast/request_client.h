// `webim-broadcast request`: one JSON request to a hub's app ingress, for operators and tests.
#pragma once

#include "broadcast/hub_config.h"

namespace webim::hub {

inline constexpr int kExitRequestTimeout = 1;

// Sends options.json on a DEALER (after an empty delimiter frame, as a REQ would), prints the
// reply body to stdout and returns 0; on timeout prints a message to stderr and returns 1.
int runRequest(const RequestOptions& options);
// Prints (or writes) a new CURVE key pair; 0 on success.
int runKeygen(const KeygenOptions& options);

}  // namespace webim::hub
