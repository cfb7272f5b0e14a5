#include "Backend.h"

namespace fmb {

Backend::~Backend() = default;

} // namespace fmb
