#pragma once

#include <QByteArray>
#include <QList>
#include <QString>

namespace fmb {

// The first 8 hex digits of SHA-256(secret): what logs show instead of a token.
[[nodiscard]] QString fingerprint(QByteArrayView secret);

// Process-wide list of secrets that must never reach a log line. The daemon's
// message handler and the child stderr relay pass every line through
// redact(). Secrets shorter than 4 bytes are ignored (they would mangle
// ordinary text). Safe to call from any thread.
class Redactor final {
public:
    static void addSecret(const QByteArray &secret);
    static void removeSecret(const QByteArray &secret);
    [[nodiscard]] static QString redact(const QString &text);
    [[nodiscard]] static QByteArray redact(const QByteArray &text);
    [[nodiscard]] static qsizetype secretCount();
    static void clear();
};

} // namespace fmb
