#pragma once

#include <QDateTime>
#include <QString>

namespace fmb {

// Who a session belongs to: the user and, with OAuth, the grant whose broker
// token the client presents. Local mode has one owner, "local".
struct SessionOwner {
    QString user;
    QString grantId;
    // When the presented bearer token expires; invalid when it never does
    // (local mode). Not part of key(): a refreshed token owns the same sessions.
    QDateTime tokenExpiresAt{};
    [[nodiscard]] QString key() const { return user + QLatin1Char('\x1f') + grantId; }
};

} // namespace fmb
