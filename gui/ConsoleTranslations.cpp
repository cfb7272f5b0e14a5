#include "ConsoleTranslations.h"

#include <QCoreApplication>
#include <QLibraryInfo>
#include <QLocale>
#include <QTranslator>

namespace fmb {

QList<QTranslator *> installConsoleTranslations(const QLocale &locale)
{
    QList<QTranslator *> installed;
    auto *ours = new QTranslator(QCoreApplication::instance());
    if (ours->load(locale, QStringLiteral("fmb_console"), QStringLiteral("_"), QStringLiteral(":/i18n")) &&
        QCoreApplication::installTranslator(ours)) {
        installed.append(ours);
    } else {
        delete ours;
        return installed;
    }
    auto *qt = new QTranslator(QCoreApplication::instance());
    if (qt->load(locale, QStringLiteral("qtbase"), QStringLiteral("_"),
                 QLibraryInfo::path(QLibraryInfo::TranslationsPath)) &&
        QCoreApplication::installTranslator(qt)) {
        installed.append(qt);
    } else {
        delete qt;
    }
    return installed;
}

} // namespace fmb
