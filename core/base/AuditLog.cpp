#include "AuditLog.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>

namespace fmb {
namespace {

Q_LOGGING_CATEGORY(lcAudit, "fmb.audit", QtInfoMsg)

} // namespace

AuditLog::AuditLog(QString path)
    : m_path(std::move(path))
    , m_journal(m_path == QLatin1String("journal") || m_path == QLatin1String("-"))
{}

AuditLog::~AuditLog()
{
    if (m_fd >= 0)
        ::close(m_fd);
}

Result<void> AuditLog::open()
{
    if (m_journal)
        return {};
    const int fd =
        ::open(QFile::encodeName(m_path).constData(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return Error{ErrorCode::Io, QStringLiteral("audit_log"),
                     QStringLiteral("audit_log: cannot open %1: %2")
                         .arg(m_path, QString::fromLocal8Bit(std::strerror(errno)))};
    }
    // An existing file keeps its owner; it must not stay readable by others.
    struct stat info = {};
    if (::fstat(fd, &info) == 0 && (info.st_mode & 077) != 0 && ::fchmod(fd, 0600) != 0)
        qCWarning(lcAudit).noquote() << "audit_log" << m_path
                                     << "is readable by others and cannot be chmod 600";
    if (m_fd >= 0)
        ::close(m_fd);
    m_fd = fd;
    m_failing = false;
    return {};
}

Result<void> AuditLog::reopen()
{
    return open();
}

QByteArray AuditLog::formatLine(const QString &event, const QJsonObject &fields, const QDateTime &when)
{
    QJsonObject rest;
    for (auto it = fields.begin(); it != fields.end(); ++it) {
        if (it.key() == QLatin1String("ts") || it.key() == QLatin1String("event"))
            continue;
        if (it.value().isString() && it.value().toString().isEmpty())
            continue;
        rest.insert(it.key(), it.value());
    }
    // "ts" and "event" first, for people reading the file; QJsonObject sorts the rest.
    const auto quoted = [](const QString &text) {
        const QByteArray array = QJsonDocument(QJsonArray{text}).toJson(QJsonDocument::Compact);
        return array.mid(1, array.size() - 2); // ["..."] -> "..."
    };
    QByteArray line =
        "{\"ts\":" + quoted(when.toUTC().toString(Qt::ISODateWithMs)) + ",\"event\":" + quoted(event);
    const QByteArray tail = QJsonDocument(rest).toJson(QJsonDocument::Compact);
    if (tail.size() > 2)
        line += ',' + tail.mid(1);
    else
        line += '}';
    return line + '\n';
}

void AuditLog::record(const QString &event, const QJsonObject &fields)
{
    const QByteArray line = formatLine(event, fields, QDateTime::currentDateTimeUtc());
    if (m_journal) {
        qCInfo(lcAudit).noquote() << QString::fromUtf8(line.chopped(1));
        return;
    }
    const ssize_t written = m_fd >= 0 ? ::write(m_fd, line.constData(), size_t(line.size())) : -1;
    if (written == line.size()) {
        m_failing = false;
        return;
    }
    if (!m_failing) {
        qCWarning(lcAudit).noquote() << "cannot write the audit trail to" << m_path << ":"
                                     << (written < 0 ? QString::fromLocal8Bit(std::strerror(errno))
                                                     : QStringLiteral("short write"))
                                     << "; events are lost until a write works again";
    }
    m_failing = true;
}

} // namespace fmb
