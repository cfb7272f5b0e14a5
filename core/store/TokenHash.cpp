#include "TokenHash.h"

#include <QCryptographicHash>
#include <QList>
#include <QRandomGenerator>

namespace fmb {
namespace {

constexpr qsizetype TokenBytes = 32;
constexpr qsizetype RecordIdBytes = 16;
constexpr qsizetype HashHexLength = 64;

QByteArray randomBytes(qsizetype count)
{
    // QRandomGenerator::system() reads the OS CSPRNG (getrandom on Linux).
    QList<quint32> words((count + 3) / 4);
    QRandomGenerator::system()->fillRange(words.data(), words.size());
    return QByteArray(reinterpret_cast<const char *>(words.constData()), count);
}

bool isLowerHex(const QByteArray &text)
{
    for (const char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

} // namespace

QByteArray generateOpaqueToken()
{
    return randomBytes(TokenBytes).toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
}

QString generateRecordId()
{
    return QString::fromLatin1(randomBytes(RecordIdBytes).toHex());
}

TokenHash::TokenHash(QByteArray hex)
    : m_hex(std::move(hex))
{}

TokenHash TokenHash::of(QByteArrayView token)
{
    return TokenHash(QCryptographicHash::hash(token, QCryptographicHash::Sha256).toHex());
}

TokenHash TokenHash::fromHex(const QByteArray &hex)
{
    if (hex.size() != HashHexLength || !isLowerHex(hex))
        return {};
    return TokenHash(hex);
}

QString TokenHash::fingerprint() const
{
    return QString::fromLatin1(m_hex.left(8));
}

} // namespace fmb
