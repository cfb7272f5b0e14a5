#include "MigrateStore.h"

#include <cstdio>

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>

#include "base/Redactor.h"
#include "config/DatabaseUrl.h"
#include "store/StoreMigration.h"

namespace fmb {
namespace {

void print(FILE *stream, const QString &text)
{
    const QByteArray bytes = text.toUtf8();
    std::fwrite(bytes.constData(), 1, size_t(bytes.size()), stream);
    std::fflush(stream);
}

int failWith(int status, const QString &message)
{
    print(stderr, QStringLiteral("forgejo-mcp-brokerctl: migrate-store: %1\n").arg(message));
    return status;
}

int exitStatusFor(MigrationFailure failure)
{
    switch (failure) {
    case MigrationFailure::Unreachable:
        return CtlExit::Unreachable;
    case MigrationFailure::TargetHoldsData:
        return CtlExit::TargetNotEmpty;
    case MigrationFailure::InvalidSource:
    case MigrationFailure::CopyFailed:
        return CtlExit::Failed;
    }
    return CtlExit::Failed;
}

QString report(const MigrationCounts &counts, const QString &from, const QString &to)
{
    QString text = QStringLiteral("copied %1 into %2\n").arg(from, to);
    const auto line = [&text](const char *what, int count, const QString &extra = {}) {
        text += QStringLiteral("  %1%2%3\n").arg(QLatin1String(what), -22).arg(count).arg(extra);
    };
    line("clients", counts.clients);
    line("consents", counts.consents);
    line("grants", counts.grants, QStringLiteral(" (%1 with Forgejo tokens)").arg(counts.upstreamTokens));
    line("access tokens", counts.accessTokens);
    line("refresh tokens", counts.refreshTokens);
    line("authorization codes", counts.authCodes);
    text += QStringLiteral("left behind (expired): %1 broker tokens, %2 authorization codes\n")
                .arg(counts.expiredTokens)
                .arg(counts.expiredCodes);
    text += QStringLiteral("Every broker on the target needs this broker's key file as secret_key_file\n"
                           "(upstream-tokens.key in its state_dir).\n");
    return text;
}

QJsonObject reportJson(const MigrationCounts &counts, const QString &from, const QString &to)
{
    return QJsonObject{{QStringLiteral("from"), from},
                       {QStringLiteral("to"), to},
                       {QStringLiteral("clients"), counts.clients},
                       {QStringLiteral("consents"), counts.consents},
                       {QStringLiteral("grants"), counts.grants},
                       {QStringLiteral("upstream_tokens"), counts.upstreamTokens},
                       {QStringLiteral("access_tokens"), counts.accessTokens},
                       {QStringLiteral("refresh_tokens"), counts.refreshTokens},
                       {QStringLiteral("authorization_codes"), counts.authCodes},
                       {QStringLiteral("expired_tokens"), counts.expiredTokens},
                       {QStringLiteral("expired_codes"), counts.expiredCodes}};
}

} // namespace

int runMigrateStore(const CtlOptions &options)
{
    // parseCtlArguments has checked both URLs.
    const DatabaseUrl from = parseDatabaseUrl(options.from).value();
    const DatabaseUrl to = parseDatabaseUrl(options.to).value();

    MigrationOptions migration;
    migration.sqlitePath = from.sqlitePath;
    migration.force = options.force;
    migration.target.host = to.host;
    migration.target.port = to.port;
    migration.target.user = to.user;
    migration.target.database = to.database;
    if (!options.toPasswordFile.isEmpty()) {
        QFile file(options.toPasswordFile);
        if (!file.open(QIODevice::ReadOnly)) {
            return failWith(CtlExit::Usage, QStringLiteral("--to-password-file: cannot read %1: %2")
                                                .arg(options.toPasswordFile, file.errorString()));
        }
        const QByteArray password = file.read(4096).trimmed();
        if (password.isEmpty())
            return failWith(CtlExit::Usage,
                            QStringLiteral("--to-password-file: %1 is empty").arg(options.toPasswordFile));
        Redactor::addSecret(password);
        migration.target.password = QString::fromUtf8(password);
    }
    const QString target = migration.target.display();

    if (Result<void> r = checkSqliteNotInUse(migration.sqlitePath); !r.ok())
        return failWith(CtlExit::SourceInUse, r.error().message);
    Result<MigrationCounts, MigrationError> counts = migrateSqliteToPostgres(migration);
    if (!counts.ok()) {
        const MigrationError &failure = counts.error();
        return failWith(exitStatusFor(failure.kind),
                        failure.kind == MigrationFailure::CopyFailed
                            ? failure.error.message + QStringLiteral(" (rolled back: nothing copied)")
                            : failure.error.message);
    }
    if (options.json) {
        print(stdout, QString::fromUtf8(QJsonDocument(reportJson(counts.value(), options.from, target))
                                            .toJson(QJsonDocument::Indented)));
    } else {
        print(stdout, report(counts.value(), options.from, target));
    }
    return CtlExit::Ok;
}

} // namespace fmb
