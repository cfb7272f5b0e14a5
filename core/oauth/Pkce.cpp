#include "Pkce.h"

#include <algorithm>

#include <openssl/crypto.h>

#include <QCryptographicHash>

#include "store/TokenHash.h"

namespace fmb::Pkce {
namespace {

bool isUnreserved(QChar c)
{
    const char16_t u = c.unicode();
    return (u >= u'A' && u <= u'Z') || (u >= u'a' && u <= u'z') || (u >= u'0' && u <= u'9') || u == u'-' ||
           u == u'.' || u == u'_' || u == u'~';
}

bool isBase64Url(QChar c)
{
    const char16_t u = c.unicode();
    return (u >= u'A' && u <= u'Z') || (u >= u'a' && u <= u'z') || (u >= u'0' && u <= u'9') || u == u'-' ||
           u == u'_';
}

} // namespace

bool isValidVerifier(QStringView verifier)
{
    if (verifier.size() < 43 || verifier.size() > 128)
        return false;
    return std::all_of(verifier.begin(), verifier.end(), isUnreserved);
}

bool isValidS256Challenge(QStringView challenge)
{
    return challenge.size() == 43 && std::all_of(challenge.begin(), challenge.end(), isBase64Url);
}

QString s256(QStringView verifier)
{
    const QByteArray digest = QCryptographicHash::hash(verifier.toLatin1(), QCryptographicHash::Sha256);
    return QString::fromLatin1(
        digest.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
}

bool verifyS256(QStringView verifier, QStringView challenge)
{
    if (!isValidVerifier(verifier) || !isValidS256Challenge(challenge))
        return false;
    const QByteArray computed = s256(verifier).toLatin1();
    const QByteArray expected = challenge.toLatin1();
    return computed.size() == expected.size() &&
           CRYPTO_memcmp(computed.constData(), expected.constData(), size_t(computed.size())) == 0;
}

QByteArray generateVerifier()
{
    return generateOpaqueToken();
}

} // namespace fmb::Pkce
