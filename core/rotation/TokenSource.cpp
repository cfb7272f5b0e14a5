#include "TokenSource.h"

namespace fmb {

TokenSource::~TokenSource() = default;

void TokenSource::load(const QStringList & /*grantIds*/, std::function<void()> ready)
{
    ready();
}

} // namespace fmb
