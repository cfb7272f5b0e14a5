#pragma once

#include <QByteArray>
#include <QString>

// Proof Key for Code Exchange (RFC 7636), S256 only: OAuth 2.1 §4.1.1 and
// the MCP authorization spec refuse "plain". Pure.
namespace fmb::Pkce {

// 43..128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1).
[[nodiscard]] bool isValidVerifier(QStringView verifier);
// An S256 challenge: base64url of a SHA-256, 43 characters, no padding.
[[nodiscard]] bool isValidS256Challenge(QStringView challenge);
// BASE64URL(SHA256(ASCII(verifier))).
[[nodiscard]] QString s256(QStringView verifier);
// Whether `verifier` is well-formed and hashes to `challenge`; compares in
// constant time.
[[nodiscard]] bool verifyS256(QStringView verifier, QStringView challenge);
// A fresh verifier for the broker's own upstream request (43 characters).
[[nodiscard]] QByteArray generateVerifier();

} // namespace fmb::Pkce
