#pragma once

#include <QByteArray>
#include <QSet>
#include <QString>
#include <QStringList>

namespace fmb {

// DNS rebinding protection (MCP 2025-11-25, transports, "Security
// Warning"): which Host and Origin headers /mcp accepts. Pure.
//  - Host: on a loopback listener only loopback names (any port) and the
//    public URL's host; elsewhere the public URL's host and the listen
//    address. No public URL on a wildcard listener: any Host.
//  - Origin: absent is fine (not a browser); otherwise it must be listed,
//    be the public URL's origin, or, on a loopback listener, a loopback origin.
class OriginPolicy final {
public:
    OriginPolicy(const QStringList &allowedOrigins, const QString &listenHost, const QString &publicUrl);

    [[nodiscard]] bool hostAllowed(QByteArrayView host) const;
    [[nodiscard]] bool originAllowed(QByteArrayView origin) const;

private:
    QSet<QString> m_origins; // normalised "scheme://host:port"
    QSet<QString> m_hosts;   // host names without port, lowercased
    bool m_loopback = false;
    bool m_anyHost = false;
};

} // namespace fmb
