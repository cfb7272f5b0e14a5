#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

namespace fmb {

// A fresh opaque credential (access or refresh token, authorization code):
// 32 bytes from QRandomGenerator::system(), base64url without padding
// (43 characters). Hand it to the client once; store only its TokenHash.
[[nodiscard]] QByteArray generateOpaqueToken();

// A random identifier that is not a credential (grant ids, token families):
// 16 random bytes as 32 lowercase hex digits.
[[nodiscard]] QString generateRecordId();

// The SHA-256 of an opaque token, as 64 lowercase hex digits: the only form in
// which the store keeps, and looks up, broker tokens and authorization codes.
// A distinct type so a plain token can't be passed where a hash is expected.
class TokenHash final {
public:
    TokenHash() = default;

    [[nodiscard]] static TokenHash of(QByteArrayView token);
    // Wraps a hash read back from storage; returns a null hash unless `hex` is
    // 64 lowercase hex digits.
    [[nodiscard]] static TokenHash fromHex(const QByteArray &hex);

    [[nodiscard]] bool isNull() const { return m_hex.isEmpty(); }
    [[nodiscard]] const QByteArray &hex() const { return m_hex; }
    // The first 8 hex digits: what logs and error subjects show (STYLE.md §7).
    [[nodiscard]] QString fingerprint() const;

    friend bool operator==(const TokenHash &, const TokenHash &) = default;

private:
    explicit TokenHash(QByteArray hex);

    QByteArray m_hex;
};

} // namespace fmb
