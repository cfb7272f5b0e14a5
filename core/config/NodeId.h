#pragma once

#include <QString>

namespace fmb {

// A broker's name in a cluster (--node-id, issue 14). It prefixes session
// ids so that a proxy without learned stickiness (nginx) can route on it,
// and names the broker in logs, admin info, /healthz and /metrics.
inline constexpr qsizetype MaxNodeIdLength = 32;

// True for 1..MaxNodeIdLength characters of [A-Za-z0-9._-].
[[nodiscard]] bool isValidNodeId(const QString &text);

// The default: the host name up to its first dot, with every other
// character mapped to '-', then '-' and the port ("web1-8080"); trimmed so
// that it stays a valid node id. "broker-PORT" when the host has no name.
[[nodiscard]] QString defaultNodeId(const QString &hostName, quint16 port);

} // namespace fmb
