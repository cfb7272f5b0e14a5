#include "Redactor.h"

#include <algorithm>
#include <mutex>

#include <QCryptographicHash>
#include <QHash>

namespace fmb {
namespace {

constexpr qsizetype MinSecretLength = 4;

struct SecretList {
    std::mutex mutex;
    QHash<QByteArray, int> refs; // a secret may be registered by several owners
};

SecretList &secrets()
{
    static SecretList list;
    return list;
}

} // namespace

QString fingerprint(QByteArrayView secret)
{
    const QByteArray digest = QCryptographicHash::hash(secret, QCryptographicHash::Sha256);
    return QString::fromLatin1(digest.toHex().left(8));
}

void Redactor::addSecret(const QByteArray &secret)
{
    if (secret.size() < MinSecretLength)
        return;
    std::lock_guard lock(secrets().mutex);
    ++secrets().refs[secret];
}

void Redactor::removeSecret(const QByteArray &secret)
{
    std::lock_guard lock(secrets().mutex);
    auto it = secrets().refs.find(secret);
    if (it != secrets().refs.end() && --it.value() <= 0)
        secrets().refs.erase(it);
}

QByteArray Redactor::redact(const QByteArray &text)
{
    std::lock_guard lock(secrets().mutex);
    if (secrets().refs.isEmpty())
        return text;
    QByteArray out = text;
    // Longest first, so a secret that contains another is replaced whole.
    QList<QByteArray> keys = secrets().refs.keys();
    std::sort(keys.begin(), keys.end(),
              [](const QByteArray &a, const QByteArray &b) { return a.size() > b.size(); });
    for (const QByteArray &secret : std::as_const(keys)) {
        if (out.contains(secret))
            out.replace(secret, QByteArray("[redacted:" + fingerprint(secret).toLatin1() + ']'));
    }
    return out;
}

QString Redactor::redact(const QString &text)
{
    {
        std::lock_guard lock(secrets().mutex);
        if (secrets().refs.isEmpty())
            return text;
    }
    return QString::fromUtf8(redact(text.toUtf8()));
}

qsizetype Redactor::secretCount()
{
    std::lock_guard lock(secrets().mutex);
    return secrets().refs.size();
}

void Redactor::clear()
{
    std::lock_guard lock(secrets().mutex);
    secrets().refs.clear();
}

} // namespace fmb
