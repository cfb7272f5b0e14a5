#pragma once

#include <optional>

#include <QByteArray>
#include <QDateTime>
#include <QString>

#include "base/Result.h"
#include "store/SecretBox.h"

namespace fmb {

// Who the browser signed in as at the last upstream callback.
struct LoginIdentity {
    qint64 userId = 0;
    QString login;
    QDateTime expiresAt;
};

// The broker login cookie (__Host-fmb_login): the identity sealed with
// AES-256-GCM (SecretBox) under a key of its own, so the browser can neither
// read nor forge it. It only lets /authorize skip the consent page for a
// client the user already approved; it never authorises a token by itself.
class LoginCookie final {
public:
    static QByteArray cookieName() { return QByteArrayLiteral("__Host-fmb_login"); }
    static QString keyFileName() { return QStringLiteral("login-cookie.key"); }

    // Loads or creates the key file (0600) in the state directory.
    [[nodiscard]] static Result<LoginCookie> fromKeyFile(const QString &path);
    // A key that lives only in memory: cookies die with the process.
    [[nodiscard]] static LoginCookie ephemeral();

    [[nodiscard]] QByteArray seal(const LoginIdentity &identity) const;
    // Unauthorized for a cookie that does not open, is malformed or expired.
    [[nodiscard]] Result<LoginIdentity> open(const QByteArray &cookie, const QDateTime &now) const;

private:
    explicit LoginCookie(SecretBox box);

    std::optional<SecretBox> m_box;
};

} // namespace fmb
