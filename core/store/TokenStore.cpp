#include "TokenStore.h"

namespace fmb {

TokenStore::~TokenStore() = default;

} // namespace fmb
