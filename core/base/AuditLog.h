#pragma once

#include <QDateTime>
#include <QJsonObject>
#include <QString>

#include "base/Result.h"

namespace fmb {

// The audit trail (issue 15, docs/audit.md): one JSON object per line for
// what an operator must answer for (sign-ins, revocations, sessions), to an
// append-only file created with mode 0600, or with the path "journal" (or
// "-") to the fmb.audit logging category at info level, which systemd puts
// in the journal. Every line starts with "ts" (RFC 3339, UTC, milliseconds)
// and "event"; the caller's fields follow. Callers pass no secret: names,
// ids and session id prefixes only. Writes are one write(2) of a short line
// to a local file; a failed write is logged once (until a write works again)
// and never stops the broker. Use from one thread.
class AuditLog final {
public:
    explicit AuditLog(QString path);
    ~AuditLog();
    AuditLog(const AuditLog &) = delete;
    AuditLog &operator=(const AuditLog &) = delete;

    // Io (naming the path) when the file cannot be opened.
    [[nodiscard]] Result<void> open();
    // Opens the path again (SIGHUP, after logrotate moved the file).
    [[nodiscard]] Result<void> reopen();
    [[nodiscard]] bool toJournal() const { return m_journal; }
    [[nodiscard]] const QString &path() const { return m_path; }

    void record(const QString &event, const QJsonObject &fields);

    // The line for one event, '\n' included; empty string fields are left out.
    [[nodiscard]] static QByteArray formatLine(const QString &event, const QJsonObject &fields,
                                               const QDateTime &when);

private:
    QString m_path;
    bool m_journal = false;
    int m_fd = -1;
    bool m_failing = false;
};

} // namespace fmb
