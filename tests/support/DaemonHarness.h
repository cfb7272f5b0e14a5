#pragma once

#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkRequest>
#include <QString>
#include <QStringList>
#include <QUrl>

#include "DaemonProcess.h"

namespace fmb::test {

// A real forgejo-mcp-brokerd (local mode, children = fmb-test-mcp-server)
// started by a test through DaemonProcess, with its admin socket at a path
// the test chooses. Shared by the admin, gui and ssh tests.
class DaemonHarness final {
public:
    explicit DaemonHarness(QString adminSocket);
    ~DaemonHarness() = default; // the DaemonProcess stops the daemon

    // Starts the daemon and waits until both the HTTP port and the admin
    // socket listen. False (with the log in error()) when it does not come up.
    [[nodiscard]] bool start(const QStringList &extraArguments = {});
    void stop();

    [[nodiscard]] QUrl mcpUrl() const { return m_mcpUrl; }
    [[nodiscard]] const QString &adminSocket() const { return m_adminSocket; }
    [[nodiscard]] qint64 pid() const { return m_daemon.pid(); }
    [[nodiscard]] QString log();
    [[nodiscard]] const QString &error() const { return m_error; }

    // POSTs initialize (clientInfo.name = clientName) and returns the new
    // session's id, or an empty string (error() says why).
    [[nodiscard]] QString createSession(const QString &clientName);
    // POSTs tools/call echo in a session: activity for the session.
    [[nodiscard]] bool ping(const QString &sessionId);
    // POSTs a 2026-07-28 server/discover (issue 13): the local user's user
    // child starts. True when it was answered 200.
    [[nodiscard]] bool discover();

private:
    // POSTs `body` and waits for the whole answer: true on a 2xx.
    [[nodiscard]] bool postOk(QNetworkRequest request, const QJsonObject &body);

    QString m_adminSocket;
    fmbtest::DaemonProcess m_daemon;
    QUrl m_mcpUrl;
    QString m_error;
    QNetworkAccessManager m_network;
    int m_nextRequestId = 1;
};

// /proc/<pid> exists.
[[nodiscard]] bool processExists(qint64 pid);

} // namespace fmb::test
