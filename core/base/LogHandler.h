#pragma once

namespace fmb {

// Installs a Qt message handler that writes one line per message to stderr:
// "2026-11-25T10:00:00.123Z info fmb.http: text". Every line goes through the
// Redactor first, so a registered secret never reaches the log.
void installLogHandler();

} // namespace fmb
