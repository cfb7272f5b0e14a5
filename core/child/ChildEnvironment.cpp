#include "ChildEnvironment.h"

namespace fmb {

bool isKeptForChildren(const QString &name)
{
    // What a program needs to find its tools and speak the operator's
    // language; HOME stays the broker's (an operator picks another with
    // --child-env HOME=...). The Landlock sandbox decides what a child may
    // read there, not the environment.
    return name == QLatin1String("PATH") || name == QLatin1String("HOME") || name == QLatin1String("LANG") ||
           name == QLatin1String("TZ") || name.startsWith(QLatin1String("LC_"));
}

QProcessEnvironment childEnvironment(const QProcessEnvironment &broker, const QStringList &passNames,
                                     const QList<QPair<QString, QString>> &set)
{
    QProcessEnvironment environment;
    const QStringList names = broker.keys();
    for (const QString &name : names) {
        if (isKeptForChildren(name))
            environment.insert(name, broker.value(name));
    }
    for (const QString &name : passNames) {
        if (broker.contains(name))
            environment.insert(name, broker.value(name));
    }
    for (const auto &[name, value] : set)
        environment.insert(name, value);
    return environment;
}

} // namespace fmb
