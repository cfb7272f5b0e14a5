#include "ConfigCheck.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHostAddress>
#include <QStandardPaths>

namespace fmb {
namespace {

QString quoted(const QString &value)
{
    return QLatin1Char('"') + value + QLatin1Char('"');
}

// The daemon binds QHostAddress(listenHost), "localhost" excepted: a name
// that is valid but not an address would fail only at the bind.
QString listenProblem(const BrokerConfig &config)
{
    if (config.listenHost == QLatin1String("localhost") || !QHostAddress(config.listenHost).isNull())
        return {};
    return QLatin1String("listen: ") + quoted(config.listenHost) +
           QLatin1String(" is not an IP address the daemon can bind (use 127.0.0.1, [::1], 0.0.0.0, [::] or "
                         "localhost)");
}

QString childProblem(const BrokerConfig &config)
{
    // The program name only: the arguments may carry a secret.
    if (!QStandardPaths::findExecutable(config.childProgram).isEmpty())
        return {};
    const QString where = config.childProgram.contains(QLatin1Char('/'))
                              ? QStringLiteral("is not an executable file")
                              : QStringLiteral("is not an executable found on PATH");
    return QLatin1String("child_command: ") + quoted(config.childProgram) + QLatin1Char(' ') + where;
}

// The file is read at start; its contents are a secret and never shown.
QString secretFileProblem(const QString &key, const QString &path)
{
    const QFileInfo info(path);
    if (!info.exists())
        return key + QLatin1String(": ") + quoted(path) + QLatin1String(" does not exist");
    if (!info.isFile())
        return key + QLatin1String(": ") + quoted(path) + QLatin1String(" is not a regular file");
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return key + QLatin1String(": cannot read ") + quoted(path) + QLatin1String(": ") +
               file.errorString();
    if (file.read(4096).trimmed().isEmpty())
        return key + QLatin1String(": ") + quoted(path) + QLatin1String(" is empty");
    return {};
}

// The shared AES-256-GCM key (issue 14): never created by the broker, so it
// must be there, 32 bytes, and readable by its owner only. Its bytes are
// not read here and never shown.
QString secretKeyProblem(const QString &path)
{
    const QString key = QStringLiteral("secret_key_file");
    const QFileInfo info(path);
    if (!info.exists())
        return key + QLatin1String(": ") + quoted(path) + QLatin1String(" does not exist");
    if (!info.isFile())
        return key + QLatin1String(": ") + quoted(path) + QLatin1String(" is not a regular file");
    const QFile::Permissions others = QFile::ReadGroup | QFile::WriteGroup | QFile::ExeGroup |
                                      QFile::ReadOther | QFile::WriteOther | QFile::ExeOther;
    if (info.permissions() & others)
        return key + QLatin1String(": ") + quoted(path) +
               QLatin1String(" is open to its group or others (chmod 600 it)");
    if (info.size() != 32)
        return key + QLatin1String(": ") + quoted(path) + QLatin1String(" holds ") +
               QString::number(info.size()) + QLatin1String(" bytes, not the 32 of an AES-256 key");
    if (!QFile(path).open(QIODevice::ReadOnly))
        return key + QLatin1String(": cannot read ") + quoted(path);
    return {};
}

// The state directory is made at start when missing: the nearest existing
// ancestor must then let us create it.
QString stateDirProblem(const QString &path)
{
    QFileInfo info(path);
    if (info.exists()) {
        if (!info.isDir())
            return QLatin1String("state_dir: ") + quoted(path) + QLatin1String(" is not a directory");
        if (!info.isWritable() || !info.isExecutable())
            return QLatin1String("state_dir: ") + quoted(path) + QLatin1String(" is not writable");
        return {};
    }
    QString ancestor = QFileInfo(QDir::cleanPath(QDir(path).absolutePath())).absolutePath();
    while (!QFileInfo::exists(ancestor) && ancestor != QLatin1String("/"))
        ancestor = QFileInfo(ancestor).absolutePath();
    const QFileInfo parent(ancestor);
    if (!parent.isDir() || !parent.isWritable())
        return QLatin1String("state_dir: ") + quoted(path) +
               QLatin1String(" does not exist and cannot be "
                             "created in ") +
               quoted(ancestor);
    return {};
}

QString adminSocketProblem(const QString &path)
{
    if (path.isEmpty())
        return {}; // the default, under the runtime directory, is made at start
    const QFileInfo directory(QFileInfo(path).absolutePath());
    if (!directory.isDir())
        return QLatin1String("admin_socket: the directory ") + quoted(directory.filePath()) +
               QLatin1String(" does not exist");
    return {};
}

} // namespace

QStringList configProblems(const BrokerConfig &config)
{
    QStringList problems{listenProblem(config), childProblem(config), adminSocketProblem(config.adminSocket)};
    if (config.authMode == AuthMode::OAuth) {
        problems.append(
            secretFileProblem(QStringLiteral("forgejo_client_secret_file"), config.forgejoClientSecretFile));
        problems.append(stateDirProblem(config.stateDir));
        if (!config.secretKeyFile.isEmpty())
            problems.append(secretKeyProblem(config.secretKeyFile));
        if (!config.databasePasswordFile.isEmpty())
            problems.append(
                secretFileProblem(QStringLiteral("database_password_file"), config.databasePasswordFile));
    }
    problems.removeAll(QString());
    return problems;
}

} // namespace fmb
