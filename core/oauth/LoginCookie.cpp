#include "LoginCookie.h"

#include <QJsonDocument>
#include <QJsonObject>

#include "store/TokenHash.h"

namespace fmb {
namespace {

// Binds the sealed value to its purpose, so no other sealed blob opens here.
constexpr QByteArrayView AssociatedData = "fmb login cookie v1";

Error refused(const QString &why)
{
    return Error{ErrorCode::Unauthorized, QString::fromLatin1(LoginCookie::cookieName()), why};
}

} // namespace

LoginCookie::LoginCookie(SecretBox box)
    : m_box(std::move(box))
{}

Result<LoginCookie> LoginCookie::fromKeyFile(const QString &path)
{
    Result<SecretBox> box = SecretBox::loadOrCreateKeyFile(path);
    if (!box)
        return box.error();
    return LoginCookie(std::move(box).value());
}

LoginCookie LoginCookie::ephemeral()
{
    // An opaque token is 32 random bytes in base64url.
    QByteArray key = QByteArray::fromBase64(generateOpaqueToken(), QByteArray::Base64UrlEncoding);
    key.truncate(SecretBox::KeySize);
    Result<SecretBox> box = SecretBox::fromKey(key);
    Q_ASSERT(box.ok());
    return LoginCookie(std::move(box).value());
}

QByteArray LoginCookie::seal(const LoginIdentity &identity) const
{
    const QJsonObject payload{{QStringLiteral("uid"), identity.userId},
                              {QStringLiteral("login"), identity.login},
                              {QStringLiteral("exp"), identity.expiresAt.toMSecsSinceEpoch()}};
    Result<QByteArray> sealed =
        m_box->seal(QJsonDocument(payload).toJson(QJsonDocument::Compact), AssociatedData);
    if (!sealed)
        return {};
    return sealed.value().toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
}

Result<LoginIdentity> LoginCookie::open(const QByteArray &cookie, const QDateTime &now) const
{
    if (cookie.isEmpty() || cookie.size() > 1024)
        return refused(QStringLiteral("no login cookie"));
    const auto decoded = QByteArray::fromBase64Encoding(cookie, QByteArray::Base64UrlEncoding |
                                                                    QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded)
        return refused(QStringLiteral("the login cookie is not base64url"));
    Result<QByteArray> plain = m_box->open(*decoded, AssociatedData);
    if (!plain)
        return refused(QStringLiteral("the login cookie does not open (forged, or sealed with another key)"));
    const QJsonObject payload = QJsonDocument::fromJson(plain.value()).object();
    LoginIdentity identity;
    identity.userId = payload.value(QStringLiteral("uid")).toInteger();
    identity.login = payload.value(QStringLiteral("login")).toString();
    identity.expiresAt =
        QDateTime::fromMSecsSinceEpoch(payload.value(QStringLiteral("exp")).toInteger(), Qt::UTC);
    if (identity.userId <= 0 || identity.login.isEmpty())
        return refused(QStringLiteral("the login cookie is malformed"));
    if (now >= identity.expiresAt)
        return refused(QStringLiteral("the login cookie expired"));
    return identity;
}

} // namespace fmb
