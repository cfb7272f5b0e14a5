#pragma once

#include <QString>

namespace fmb {

// Who a session belongs to: the user and, with OAuth, the grant whose broker
// token the client presents. Local mode has one owner, "local".
struct SessionOwner {
    QString user;
    QString grantId;
    [[nodiscard]] QString key() const { return user + QLatin1Char('\x1f') + grantId; }
};

} // namespace fmb
