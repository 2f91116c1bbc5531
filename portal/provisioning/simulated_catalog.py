"""The `simulated` catalogue: twelve New Commerce licences, as Partner Center's catalogue describes them in Belgium.

The same ids as the price sheet's. Each entry gives Partner Center's JSON resources (product, SKU, availability)
in the three locales the portal reads (en-US, nl-BE, fr-BE), so that the `simulated` provisioner answers exactly
what Partner Center would, and the catalogue sync reads both the same way.
"""

from dataclasses import dataclass
from typing import Any

PUBLISHER = "Microsoft Corporation"
CURRENCY = "EUR"

MONTHLY_TERM = (("P1M", "monthly"), ("P1Y", "monthly"), ("P1Y", "annual"))
WITH_THREE_YEARS = (*MONTHLY_TERM, ("P3Y", "annual"))

# What Microsoft says a term is, in each locale.
TERM_WORDS = {
    "en-US": {"P1M": "1 Month", "P1Y": "1 Year", "P3Y": "3 Years"},
    "nl-BE": {"P1M": "1 maand", "P1Y": "1 jaar", "P3Y": "3 jaar"},
    "fr-BE": {"P1M": "1 mois", "P1Y": "1 an", "P3Y": "3 ans"},
}
# New Commerce refunds: in full the first day, prorated up to the seventh (Microsoft's refundOptions).
REFUND_OPTIONS = (
    {"sequenceId": 1, "type": "Full", "expiresAfter": "P1D"},
    {"sequenceId": 2, "type": "Partial", "expiresAfter": "P7D"},
)


@dataclass(frozen=True)
class Licence:
    product_id: str
    sku_id: str
    availability_id: str
    min_quantity: int
    max_quantity: int
    terms: tuple[tuple[str, str], ...]  # (termDuration, billingCycle)
    titles: dict[str, str]  # by X-Locale
    descriptions: dict[str, str]

    @property
    def catalog_item_id(self) -> str:
        return f"{self.product_id}:{self.sku_id}:{self.availability_id}"


def _licence(
    product_id: str,
    sku_id: str,
    availability_id: str,
    max_quantity: int,
    terms: tuple[tuple[str, str], ...],
    titles: tuple[str, str, str],
    descriptions: tuple[str, str, str],
) -> Licence:
    return Licence(
        product_id=product_id,
        sku_id=sku_id,
        availability_id=availability_id,
        min_quantity=1,
        max_quantity=max_quantity,
        terms=terms,
        titles=dict(zip(TERM_WORDS, titles, strict=True)),
        descriptions=dict(zip(TERM_WORDS, descriptions, strict=True)),
    )


LICENCES = (
    _licence(
        "CFQ7TTC0LH18",
        "0001",
        "CFQ7TTC0K5DM",
        300,
        MONTHLY_TERM,
        ("Microsoft 365 Business Basic", "Microsoft 365 Business Basic", "Microsoft 365 Business Basic"),
        (
            "Business email, 1 TB of OneDrive storage, Teams and the web and mobile versions of Word, Excel and "
            "PowerPoint, for up to 300 users.",
            "Zakelijke e-mail, 1 TB OneDrive-opslag, Teams en de web- en mobiele versies van Word, Excel en "
            "PowerPoint, voor maximaal 300 gebruikers.",
            "Messagerie professionnelle, 1 To de stockage OneDrive, Teams et les versions web et mobiles de Word, "
            "Excel et PowerPoint, jusqu'à 300 utilisateurs.",
        ),
    ),
    _licence(
        "CFQ7TTC0LDPB",
        "0001",
        "CFQ7TTC0K3LR",
        300,
        MONTHLY_TERM,
        ("Microsoft 365 Business Standard", "Microsoft 365 Business Standard", "Microsoft 365 Business Standard"),
        (
            "Everything in Business Basic, plus the desktop Office apps, webinars and Bookings, for up to 300 users.",
            "Alles uit Business Basic, plus de Office-bureaubladapps, webinars en Bookings, voor maximaal "
            "300 gebruikers.",
            "Tout Business Basic, plus les applications Office de bureau, les webinaires et Bookings, jusqu'à "
            "300 utilisateurs.",
        ),
    ),
    _licence(
        "CFQ7TTC0LCHC",
        "0002",
        "CFQ7TTC0K59S",
        300,
        WITH_THREE_YEARS,
        ("Microsoft 365 Business Premium", "Microsoft 365 Business Premium", "Microsoft 365 Business Premium"),
        (
            "Everything in Business Standard, plus Intune, Entra ID P1 and Defender for Business to secure devices "
            "and identities.",
            "Alles uit Business Standard, plus Intune, Entra ID P1 en Defender voor Bedrijven om apparaten en "
            "identiteiten te beveiligen.",
            "Tout Business Standard, plus Intune, Entra ID P1 et Defender pour les entreprises pour sécuriser les "
            "appareils et les identités.",
        ),
    ),
    _licence(
        "CFQ7TTC0LFLX",
        "0001",
        "CFQ7TTC0K8P5",
        10000,
        WITH_THREE_YEARS,
        ("Microsoft 365 E3", "Microsoft 365 E3", "Microsoft 365 E3"),
        (
            "The Office apps, Windows Enterprise, Intune and Entra ID P1 for organizations of any size.",
            "De Office-apps, Windows Enterprise, Intune en Entra ID P1 voor organisaties van elke omvang.",
            "Les applications Office, Windows Entreprise, Intune et Entra ID P1 pour les organisations de toute "
            "taille.",
        ),
    ),
    _licence(
        "CFQ7TTC0LFK5",
        "0001",
        "CFQ7TTC0K8RH",
        10000,
        WITH_THREE_YEARS,
        ("Microsoft 365 E5", "Microsoft 365 E5", "Microsoft 365 E5"),
        (
            "Everything in Microsoft 365 E3, plus advanced security, compliance, Teams Phone and Power BI Pro.",
            "Alles uit Microsoft 365 E3, plus geavanceerde beveiliging, compliance, Teams Phone en Power BI Pro.",
            "Tout Microsoft 365 E3, plus la sécurité avancée, la conformité, Teams Phone et Power BI Pro.",
        ),
    ),
    _licence(
        "CFQ7TTC0LH16",
        "0001",
        "CFQ7TTC0K4W2",
        10000,
        MONTHLY_TERM,
        ("Exchange Online (Plan 1)", "Exchange Online (abonnement 1)", "Exchange Online (Plan 1)"),
        (
            "Business email and calendar with a 50 GB mailbox per user.",
            "Zakelijke e-mail en agenda met een postvak van 50 GB per gebruiker.",
            "Messagerie et calendrier professionnels avec une boîte aux lettres de 50 Go par utilisateur.",
        ),
    ),
    _licence(
        "CFQ7TTC0RQN1",
        "0001",
        "CFQ7TTC0T7ZB",
        300,
        MONTHLY_TERM,
        ("Microsoft Teams Essentials", "Microsoft Teams Essentials", "Microsoft Teams Essentials"),
        (
            "Online meetings of up to 30 hours with up to 300 participants, chat and 10 GB of cloud storage per user.",
            "Onlinevergaderingen tot 30 uur met maximaal 300 deelnemers, chat en 10 GB cloudopslag per gebruiker.",
            "Réunions en ligne jusqu'à 30 heures avec jusqu'à 300 participants, conversation et 10 Go de stockage "
            "cloud par utilisateur.",
        ),
    ),
    _licence(
        "CFQ7TTC0HCH2",
        "0001",
        "CFQ7TTC0JK3D",
        300,
        MONTHLY_TERM,
        (
            "Microsoft Defender for Business",
            "Microsoft Defender voor Bedrijven",
            "Microsoft Defender pour les entreprises",
        ),
        (
            "Endpoint protection for Windows, macOS, iOS and Android devices, with automated investigation and "
            "response.",
            "Eindpuntbeveiliging voor Windows-, macOS-, iOS- en Android-apparaten, met geautomatiseerd onderzoek en "
            "herstel.",
            "Protection des appareils Windows, macOS, iOS et Android, avec examen et réponse automatisés.",
        ),
    ),
    _licence(
        "CFQ7TTC0LFNR",
        "0002",
        "CFQ7TTC0K9BT",
        10000,
        WITH_THREE_YEARS,
        ("Microsoft Entra ID P1", "Microsoft Entra ID P1", "Microsoft Entra ID P1"),
        (
            "Identity and access management: Conditional Access, self-service password reset and hybrid identities.",
            "Identiteits- en toegangsbeheer: voorwaardelijke toegang, zelf een wachtwoord opnieuw instellen en "
            "hybride identiteiten.",
            "Gestion des identités et des accès : accès conditionnel, réinitialisation du mot de passe en libre-"
            "service et identités hybrides.",
        ),
    ),
    _licence(
        "CFQ7TTC0LHSF",
        "0001",
        "CFQ7TTC0K6QG",
        10000,
        MONTHLY_TERM,
        ("Power BI Pro", "Power BI Pro", "Power BI Pro"),
        (
            "Build, share and collaborate on interactive reports and dashboards.",
            "Interactieve rapporten en dashboards maken, delen en er samen aan werken.",
            "Créez et partagez des rapports et tableaux de bord interactifs, et collaborez dessus.",
        ),
    ),
    _licence(
        "CFQ7TTC0LHWP",
        "0001",
        "CFQ7TTC0K7FV",
        10000,
        MONTHLY_TERM,
        ("Visio Plan 2", "Visio-abonnement 2", "Visio Plan 2"),
        (
            "Professional diagrams and flowcharts with the Visio desktop app and Visio for the web.",
            "Professionele diagrammen en stroomdiagrammen met de Visio-bureaubladapp en Visio voor het web.",
            "Diagrammes et organigrammes professionnels avec l'application de bureau Visio et Visio pour le web.",
        ),
    ),
    _licence(
        "CFQ7TTC0MM8R",
        "0002",
        "CFQ7TTC0N1XK",
        10000,
        WITH_THREE_YEARS,
        ("Microsoft 365 Copilot", "Microsoft 365 Copilot", "Microsoft 365 Copilot"),
        (
            "The AI assistant in Word, Excel, PowerPoint, Outlook and Teams, grounded in your organization's data.",
            "De AI-assistent in Word, Excel, PowerPoint, Outlook en Teams, gebaseerd op de gegevens van uw "
            "onderneming.",
            "L'assistant IA dans Word, Excel, PowerPoint, Outlook et Teams, fondé sur les données de votre entreprise.",
        ),
    ),
)


def _locale(locale: str) -> str:
    return locale if locale in TERM_WORDS else "en-US"


def product_resource(licence: Licence, *, locale: str) -> dict[str, Any]:
    """The product as GET /v1/products answers it."""
    locale = _locale(locale)
    return {
        "id": licence.product_id,
        "title": licence.titles[locale],
        "description": licence.descriptions[locale],
        "productType": {"id": "OnlineServices", "displayName": "OnlineServices"},
        "isMicrosoftProduct": True,
        "publisherName": PUBLISHER,
        "links": {
            "skus": {"uri": f"/products/{licence.product_id}/skus?country=BE", "method": "GET", "headers": []},
            "self": {"uri": f"/products/{licence.product_id}?country=BE", "method": "GET", "headers": []},
        },
        "attributes": {"objectType": "Product"},
    }


def sku_resource(licence: Licence, *, locale: str) -> dict[str, Any]:
    """The product's one SKU as GET /v1/products/{id}/skus answers it."""
    locale = _locale(locale)
    return {
        "id": licence.sku_id,
        "productId": licence.product_id,
        "title": licence.titles[locale],
        "description": licence.descriptions[locale],
        "minimumQuantity": licence.min_quantity,
        "maximumQuantity": licence.max_quantity,
        "isTrial": False,
        "supportedBillingCycles": sorted({cycle for _duration, cycle in licence.terms}),
        "purchasePrerequisites": [],
        "inventoryVariables": [],
        "provisioningVariables": [],
        "actions": ["Refund"],
        "dynamicAttributes": {"isMicrosoftProduct": True, "hasAddOns": False, "isAddon": False},
        "links": {
            "availabilities": {
                "uri": f"/products/{licence.product_id}/skus/{licence.sku_id}/availabilities?country=BE",
                "method": "GET",
                "headers": [],
            },
        },
        "attributes": {"objectType": "Sku"},
    }


def term_resources(terms: tuple[tuple[str, str], ...], *, locale: str = "en-US") -> list[dict[str, Any]]:
    """The availability's terms[], each with Microsoft's cancellation policy."""
    words = TERM_WORDS[_locale(locale)]
    return [
        {
            "id": f"{duration}-{cycle}",
            "duration": duration,
            "description": words[duration],
            "billingCycle": cycle,
            "cancellationPolicies": [{"refundOptions": [dict(option) for option in REFUND_OPTIONS]}],
            "renewalOptions": [{"duration": duration, "billingCycle": cycle}],
        }
        for duration, cycle in terms
    ]


def availability_resource(licence: Licence, *, country: str, availability_id: str = "") -> dict[str, Any]:
    """The SKU's availability as GET …/skus/{id}/availabilities answers it (another id when Microsoft rotates it)."""
    availability_id = availability_id or licence.availability_id
    return {
        "id": availability_id,
        "productId": licence.product_id,
        "skuId": licence.sku_id,
        "catalogItemId": f"{licence.product_id}:{licence.sku_id}:{availability_id}",
        "defaultCurrency": {"code": CURRENCY, "symbol": "€"},
        "segment": "commercial",
        "country": country.upper(),
        "isPurchasable": True,
        "isRenewable": True,
        "terms": term_resources(licence.terms),
        "includedQuantityOptions": [],
        "links": {
            "self": {
                "uri": f"/products/{licence.product_id}/skus/{licence.sku_id}/availabilities/{availability_id}"
                f"?country={country.upper()}",
                "method": "GET",
                "headers": [],
            }
        },
        "attributes": {"objectType": "Availability"},
    }


def licence_of(product_id: str) -> Licence | None:
    return next((licence for licence in LICENCES if licence.product_id == product_id), None)
