#include "TokenSource.h"

namespace fmb {

TokenSource::~TokenSource() = default;

} // namespace fmb
