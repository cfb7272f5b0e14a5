#include "StreamSink.h"

namespace fmb {

StreamSink::~StreamSink() = default;

} // namespace fmb
