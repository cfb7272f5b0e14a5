#pragma once

#include <functional>

#include <QByteArray>
#include <QProcess>
#include <QString>
#include <QStringList>

// forgejo-mcp-brokerctl run as a process, for the tests in tests/admin
// (FMB_BIN_DIR comes from fmb_add_test).
namespace fmbtest {

struct CtlRun {
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
};

inline const QString Ctl = QStringLiteral(FMB_BIN_DIR "/forgejo-mcp-brokerctl");

inline CtlRun runCtl(const QStringList &arguments, const std::function<void()> &childModifier = {})
{
    QProcess process;
    if (childModifier)
        process.setChildProcessModifier(childModifier);
    process.start(Ctl, arguments);
    CtlRun run;
    if (!process.waitForStarted(20000)) {
        run.exitCode = -3; // never ran, e.g. the binary is out of the user's reach
        run.err = process.errorString().toUtf8();
        return run;
    }
    if (!process.waitForFinished(20000)) {
        process.kill();
        process.waitForFinished();
        run.err = "timed out";
        return run;
    }
    run.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2;
    run.out = process.readAllStandardOutput();
    run.err = process.readAllStandardError();
    return run;
}

} // namespace fmbtest
