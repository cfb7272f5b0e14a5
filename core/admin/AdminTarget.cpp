#include "AdminTarget.h"

#include <QFileInfo>

namespace fmb {
namespace {

Error badSpec(const QString &spec, const QString &why)
{
    return Error{
        ErrorCode::InvalidArgument, QStringLiteral("ssh"),
        QStringLiteral("--ssh \"%1\": %2 (try alice@host or host:/run/forgejo-mcp-broker/admin.sock)")
            .arg(spec, why)};
}

bool isPlainHostChar(QChar c)
{
    return c.isLetterOrNumber() || c == QLatin1Char('.') || c == QLatin1Char('-') || c == QLatin1Char('_') ||
           c == QLatin1Char('@') || c == QLatin1Char('%');
}

} // namespace

AdminTarget AdminTarget::local(const QString &socketPath)
{
    AdminTarget target;
    target.kind = Kind::Local;
    // QLocalSocket takes a name without a slash as one in the temp dir: a
    // relative path on the command line means the current directory.
    target.socketPath = socketPath.isEmpty() ? socketPath : QFileInfo(socketPath).absoluteFilePath();
    return target;
}

Result<AdminTarget> AdminTarget::fromSshSpec(const QString &spec)
{
    const QString text = spec.trimmed();
    if (text.isEmpty())
        return badSpec(spec, QStringLiteral("no host"));
    if (text.startsWith(QLatin1Char('-')))
        return badSpec(spec, QStringLiteral("a destination cannot start with '-'"));

    QString destination = text;
    QString remote;
    // [USER@][IPV6]:PATH keeps the brackets for ssh's sake.
    const qsizetype bracket = text.indexOf(QLatin1Char(']'));
    const qsizetype colon = text.indexOf(QLatin1Char(':'), bracket < 0 ? 0 : bracket);
    if (colon >= 0) {
        destination = text.left(colon);
        remote = text.mid(colon + 1);
        if (!remote.startsWith(QLatin1Char('/'))) {
            return badSpec(spec, QStringLiteral("the remote socket must be an absolute path; give a port in "
                                                "FMB_SSH_OPTIONS=\"-p PORT\""));
        }
    }
    const qsizetype at = destination.lastIndexOf(QLatin1Char('@'));
    QString host = at >= 0 ? destination.mid(at + 1) : destination;
    if (host.startsWith(QLatin1Char('[')) && host.endsWith(QLatin1Char(']')))
        host = host.mid(1, host.size() - 2).replace(QLatin1Char(':'), QLatin1Char('.'));
    if (host.isEmpty() || (at >= 0 && at == 0))
        return badSpec(spec, QStringLiteral("no host"));
    for (const QChar c : std::as_const(host)) {
        if (!isPlainHostChar(c))
            return badSpec(spec, QStringLiteral("'%1' is not allowed in a host name").arg(c));
    }
    for (const QChar c : std::as_const(destination)) {
        if (c.isSpace() || c.category() == QChar::Other_Control)
            return badSpec(spec, QStringLiteral("spaces and control characters are not allowed"));
    }
    AdminTarget target;
    target.kind = Kind::Ssh;
    target.sshDestination = destination;
    target.socketPath = remote;
    return target;
}

QString AdminTarget::sshSpec() const
{
    return socketPath.isEmpty() ? sshDestination : sshDestination + QLatin1Char(':') + socketPath;
}

QString AdminTarget::displayName() const
{
    if (kind == Kind::Local)
        return socketPath;
    return socketPath.isEmpty() ? QStringLiteral("ssh %1 (default socket)").arg(sshDestination)
                                : QStringLiteral("ssh %1").arg(sshSpec());
}

QString AdminTarget::toSettingsString() const
{
    return kind == Kind::Local ? QLatin1String("local:") + socketPath : QLatin1String("ssh:") + sshSpec();
}

Result<AdminTarget> AdminTarget::fromSettingsString(const QString &text)
{
    if (text.startsWith(QLatin1String("local:"))) {
        const QString path = text.mid(6);
        if (path.isEmpty())
            return Error{ErrorCode::InvalidArgument, text, QStringLiteral("an empty socket path")};
        return local(path);
    }
    if (text.startsWith(QLatin1String("ssh:")))
        return fromSshSpec(text.mid(4));
    return Error{ErrorCode::InvalidArgument, text, QStringLiteral("\"%1\" names no daemon").arg(text)};
}

} // namespace fmb
