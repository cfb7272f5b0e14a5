#pragma once

#include <QList>
#include <QString>
#include <QStringList>

#include "admin/AdminFleet.h"
#include "admin/AdminProtocol.h"

namespace fmb::ctl {

// "45s", "4m 59s", "2h 03m", "3d 04h".
[[nodiscard]] QString formatDuration(qint64 seconds);
// "no token", "in 4m 59s", "expired 12s ago".
[[nodiscard]] QString formatTokenExpiry(qint64 expiresMs, qint64 nowMs);
// The list command's table, columns padded; ids shortened to 12 characters.
[[nodiscard]] QString formatSessionTable(const QList<SessionInfo> &sessions, qint64 nowMs);
// The same for several brokers, with a BROKER column first (issue 14).
[[nodiscard]] QString formatFleetTable(const QList<FleetSession> &sessions, qint64 nowMs);
// "up", "stale" or "stopped".
[[nodiscard]] QString brokerState(const BrokerStatus &broker);
// The brokers command's table, then a line per target that did not answer.
[[nodiscard]] QString formatBrokerTable(const QList<BrokerStatus> &brokers, const QStringList &unreachable);
// "key: value" lines for info.
[[nodiscard]] QString formatDaemonInfo(const DaemonInfo &info);
// One line for watch: time, event, id and the session's fields.
[[nodiscard]] QString formatEvent(const AdminEvent &event, qint64 nowMs);
// revoke's question on a terminal, naming what goes; ends with "[y/N] ".
[[nodiscard]] QString revokeQuestion(const QString &user, int openSessions);
// "y" or "yes" in any case, surrounding blanks ignored.
[[nodiscard]] bool isYes(const QString &answer);
// What revoke took, in one line.
[[nodiscard]] QString formatRevokeOutcome(const RevokeOutcome &outcome);

} // namespace fmb::ctl
