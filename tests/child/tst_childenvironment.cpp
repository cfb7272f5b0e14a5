#include <QProcessEnvironment>
#include <QTest>

#include "child/ChildEnvironment.h"

using Pairs = QList<QPair<QString, QString>>;

namespace {

QStringList words(std::initializer_list<const char *> list)
{
    QStringList result;
    for (const char *word : list)
        result.append(QString::fromUtf8(word));
    return result;
}

Pairs pairs(std::initializer_list<std::pair<const char *, const char *>> list)
{
    Pairs result;
    for (const auto &[name, value] : list)
        result.append({QString::fromUtf8(name), QString::fromUtf8(value)});
    return result;
}

} // namespace

class tst_ChildEnvironment : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void build_data();
    void build();
};

void tst_ChildEnvironment::build_data()
{
    QTest::addColumn<QStringList>("broker"); // NAME=VALUE
    QTest::addColumn<QStringList>("passNames");
    QTest::addColumn<Pairs>("set");
    QTest::addColumn<QStringList>("child"); // NAME=VALUE, sorted

    QTest::newRow("allow-list kept, the rest dropped")
        << words({"PATH=/usr/bin", "HOME=/home/b", "LANG=C.UTF-8", "LC_ALL=C", "LC_TIME=de_DE", "TZ=UTC",
                  "FMB_CHILD_ENV=T=secret", "AWS_SECRET_ACCESS_KEY=x", "RANDOM_PARENT=1", "LD_PRELOAD=/x.so",
                  "LANGUAGE=de", "XDG_RUNTIME_DIR=/run/user/1"})
        << QStringList() << Pairs()
        << words({"HOME=/home/b", "LANG=C.UTF-8", "LC_ALL=C", "LC_TIME=de_DE", "PATH=/usr/bin", "TZ=UTC"});
    QTest::newRow("passed names kept when set")
        << words({"PATH=/bin", "HTTPS_PROXY=http://proxy:3128", "RANDOM_PARENT=1"})
        << words({"HTTPS_PROXY", "NOT_SET"}) << Pairs()
        << words({"HTTPS_PROXY=http://proxy:3128", "PATH=/bin"});
    QTest::newRow("set values win over the broker's")
        << words({"PATH=/bin", "HOME=/var/lib/fmb"}) << QStringList()
        << pairs({{"HOME", "/srv/child-home"}, {"FORGEJO_ACCESS_TOKEN", "tok"}, {"FORGEJO_URL", "https://f"}})
        << words({"FORGEJO_ACCESS_TOKEN=tok", "FORGEJO_URL=https://f", "HOME=/srv/child-home", "PATH=/bin"});
    QTest::newRow("empty broker environment: only what is set")
        << QStringList() << words({"PATH"}) << pairs({{"A", "1"}}) << words({"A=1"});
}

void tst_ChildEnvironment::build()
{
    QFETCH(QStringList, broker);
    QFETCH(QStringList, passNames);
    QFETCH(Pairs, set);
    QFETCH(QStringList, child);

    QProcessEnvironment environment;
    for (const QString &entry : broker)
        environment.insert(entry.section(QLatin1Char('='), 0, 0), entry.section(QLatin1Char('='), 1));
    QStringList built = fmb::childEnvironment(environment, passNames, set).toStringList();
    built.sort();
    QCOMPARE(built, child);
}

QTEST_GUILESS_MAIN(tst_ChildEnvironment)
#include "tst_childenvironment.moc"
