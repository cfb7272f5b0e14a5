#include "DaemonHarness.h"

#include <QDeadlineTimer>
#include <QEventLoop>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkReply>
#include <QRegularExpression>
#include <QTimer>

#include "admin/AdminPaths.h"

namespace fmb::test {
namespace {

constexpr int StartTimeoutMs = 15000;
constexpr int RequestTimeoutMs = 15000;

} // namespace

DaemonHarness::DaemonHarness(QString adminSocket)
    : m_adminSocket(std::move(adminSocket))
{}

DaemonHarness::~DaemonHarness()
{
    stop();
}

QString DaemonHarness::log()
{
    m_log += m_process.readAllStandardError();
    return QString::fromUtf8(m_log);
}

bool DaemonHarness::start(const QStringList &extraArguments)
{
    QStringList arguments = {QStringLiteral("--auth"),
                             QStringLiteral("none"),
                             QStringLiteral("--listen"),
                             QStringLiteral("127.0.0.1:0"),
                             QStringLiteral("--child-command"),
                             QStringLiteral(FMB_TEST_BIN_DIR "/fmb-test-mcp-server"),
                             QStringLiteral("--child-stop-grace"),
                             QStringLiteral("1s"),
                             QStringLiteral("--admin-socket"),
                             m_adminSocket};
    arguments += extraArguments;
    m_process.setProcessChannelMode(QProcess::SeparateChannels);
    m_process.setStandardOutputFile(QProcess::nullDevice());
    m_process.start(QStringLiteral(FMB_BIN_DIR "/forgejo-mcp-brokerd"), arguments);
    if (!m_process.waitForStarted(StartTimeoutMs)) {
        m_error = QStringLiteral("forgejo-mcp-brokerd did not start: %1").arg(m_process.errorString());
        return false;
    }
    static const QRegularExpression listening(QStringLiteral("listening on (http://[^\\s/]+)"));
    const QDeadlineTimer deadline(StartTimeoutMs);
    while (!deadline.hasExpired()) {
        const QString text = log();
        const QRegularExpressionMatch match = listening.match(text);
        if (match.hasMatch() && text.contains(QLatin1String("admin socket listening on"))) {
            m_mcpUrl = QUrl(match.captured(1) + QLatin1String("/mcp"));
            return true;
        }
        if (m_process.state() == QProcess::NotRunning)
            break;
        m_process.waitForReadyRead(100);
    }
    m_error = QStringLiteral("forgejo-mcp-brokerd did not come up; its log:\n%1").arg(log());
    return false;
}

void DaemonHarness::stop()
{
    if (m_process.state() == QProcess::NotRunning)
        return;
    m_process.terminate();
    if (!m_process.waitForFinished(10000)) {
        m_process.kill();
        m_process.waitForFinished(2000);
    }
}

QString DaemonHarness::createSession(const QString &clientName)
{
    QNetworkRequest request(m_mcpUrl);
    request.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
    request.setRawHeader("Accept", "application/json, text/event-stream");
    const QJsonObject body{
        {QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
        {QStringLiteral("id"), m_nextRequestId++},
        {QStringLiteral("method"), QStringLiteral("initialize")},
        {QStringLiteral("params"),
         QJsonObject{{QStringLiteral("protocolVersion"), QStringLiteral("2025-06-18")},
                     {QStringLiteral("capabilities"), QJsonObject{}},
                     {QStringLiteral("clientInfo"),
                      QJsonObject{{QStringLiteral("name"), clientName},
                                  {QStringLiteral("version"), QStringLiteral("1.0")}}}}},
    };
    QNetworkReply *reply = m_network.post(request, QJsonDocument(body).toJson(QJsonDocument::Compact));
    QEventLoop loop;
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    QTimer::singleShot(RequestTimeoutMs, &loop, &QEventLoop::quit);
    loop.exec();
    const QString id = QString::fromLatin1(reply->rawHeader("Mcp-Session-Id"));
    if (!reply->isFinished() || id.isEmpty()) {
        m_error = QStringLiteral("initialize failed: HTTP %1, %2")
                      .arg(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt())
                      .arg(reply->errorString());
    }
    reply->abort();
    reply->deleteLater();
    return id;
}

bool DaemonHarness::ping(const QString &sessionId)
{
    QNetworkRequest request(m_mcpUrl);
    request.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
    request.setRawHeader("Accept", "application/json, text/event-stream");
    request.setRawHeader("Mcp-Session-Id", sessionId.toLatin1());
    request.setRawHeader("MCP-Protocol-Version", "2025-06-18");
    const QJsonObject body{{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                           {QStringLiteral("id"), m_nextRequestId++},
                           {QStringLiteral("method"), QStringLiteral("ping")}};
    QNetworkReply *reply = m_network.post(request, QJsonDocument(body).toJson(QJsonDocument::Compact));
    QEventLoop loop;
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    QTimer::singleShot(RequestTimeoutMs, &loop, &QEventLoop::quit);
    loop.exec();
    const bool ok = reply->isFinished() && reply->error() == QNetworkReply::NoError;
    reply->abort();
    reply->deleteLater();
    return ok;
}

bool processExists(qint64 pid)
{
    return pid > 0 && QFileInfo::exists(QStringLiteral("/proc/%1").arg(pid));
}

} // namespace fmb::test
