#include "RequestState.h"

#include <QCryptographicHash>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMessageAuthenticationCode>
#include <QRandomGenerator>

namespace fmb {
namespace {

constexpr int KeyBytes = 32;
// A token longer than this is not ours; refused before any decoding.
constexpr qsizetype MaxTokenLength = 1024;

constexpr auto Base64Url = QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals;

QByteArray randomKey()
{
    QByteArray key(KeyBytes, Qt::Uninitialized);
    QRandomGenerator::system()->generate(key.begin(), key.end());
    return key;
}

} // namespace

RequestStateSigner::RequestStateSigner()
    : m_key(randomKey())
{}

RequestStateSigner::RequestStateSigner(QByteArray key)
    : m_key(std::move(key))
{}

QByteArray RequestStateSigner::mac(const QByteArray &payload, const QString &principal, const QString &method,
                                   const QString &name) const
{
    // Unit separators keep the fields apart: ("ab","c") never signs as ("a","bc").
    const QByteArray bound =
        payload + '\x1f' + principal.toUtf8() + '\x1f' + method.toUtf8() + '\x1f' + name.toUtf8();
    return QMessageAuthenticationCode::hash(bound, m_key, QCryptographicHash::Sha256);
}

QString RequestStateSigner::sign(const RequestStateClaims &claims) const
{
    const QByteArray payload =
        QJsonDocument(QJsonObject{{QStringLiteral("c"), claims.parkId},
                                  {QStringLiteral("e"), QString::number(claims.expiresMs)}})
            .toJson(QJsonDocument::Compact);
    return QString::fromLatin1(
        payload.toBase64(Base64Url) + '.' +
        mac(payload, claims.principal, claims.method, claims.name).toBase64(Base64Url));
}

Result<RequestStateClaims, RequestStateRefusal>
RequestStateSigner::verify(const QString &token, const QString &principal, const QString &method,
                           const QString &name, qint64 nowMs) const
{
    if (token.size() > MaxTokenLength)
        return RequestStateRefusal::Malformed;
    const QByteArray raw = token.toLatin1();
    const qsizetype dot = raw.indexOf('.');
    if (dot <= 0 || raw.indexOf('.', dot + 1) != -1)
        return RequestStateRefusal::Malformed;
    const auto payload =
        QByteArray::fromBase64Encoding(raw.left(dot), Base64Url | QByteArray::AbortOnBase64DecodingErrors);
    const auto presented =
        QByteArray::fromBase64Encoding(raw.mid(dot + 1), Base64Url | QByteArray::AbortOnBase64DecodingErrors);
    if (!payload || !presented)
        return RequestStateRefusal::Malformed;
    // Double HMAC: the MACs are compared as MACs of themselves, so how long
    // the comparison takes tells a forger nothing about the expected one.
    const QByteArray expected = mac(*payload, principal, method, name);
    if (QMessageAuthenticationCode::hash(*presented, m_key, QCryptographicHash::Sha256) !=
        QMessageAuthenticationCode::hash(expected, m_key, QCryptographicHash::Sha256))
        return RequestStateRefusal::Forged;
    const QJsonObject fields = QJsonDocument::fromJson(*payload).object();
    bool number = false;
    RequestStateClaims claims{principal, method, name, fields.value(QLatin1String("c")).toString(),
                              fields.value(QLatin1String("e")).toString().toLongLong(&number)};
    if (claims.parkId.isEmpty() || !number)
        return RequestStateRefusal::Malformed;
    if (nowMs >= claims.expiresMs)
        return RequestStateRefusal::Expired;
    return claims;
}

} // namespace fmb
