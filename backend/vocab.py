"""Controlled vocabularies: UK Open Banking Open Data v2.3 codes, extended where we need more."""

PLACE_KINDS = ("branch", "atm", "partner_outlet")
PLACE_STATUSES = ("active", "temporarily_closed", "decommissioned")

# ATMServices and ServiceAndFacility codes from the Open Banking ATM and Branch schemas.
ATM_SERVICES = (
    "Balance", "BillPayments", "CashDeposits", "CharityDonation", "ChequeDeposits",
    "CashWithdrawal", "EnvelopeDeposit", "FastCash", "MobileBankingRegistration",
    "MobilePaymentRegistration", "MobilePhoneTopUp", "OrderStatement", "Other", "PINActivation",
    "PINChange", "PINUnblock", "MiniStatement",
)
BRANCH_SERVICES = (
    "AssistedServiceCounter", "ExternalATM", "AccountVerificationService", "BusinessCounter",
    "BureauDeChange", "BusinessDepositTerminal", "BusinessITSupport", "CardIssuanceFacility",
    "CollectionLockers", "CounterServices", "ExternalQuickServicePoint",
    "InternalQuickServicePoint", "InternalATM", "LodgementDevice", "MortgageAdvisor",
    "MeetingRooms", "NightSafe", "OnlineBankingPoint", "OnDemandCurrency", "Other", "Parking",
    "PremierCounter", "QuickDeposit", "SaturdayCounterService", "StatementPrinter",
    "SelfServiceAccountOpening", "VideoBanking", "WiFi",
)
# Our extension: a partner outlet's till where a card can be repaid.
EXTRA_SERVICES = ("PartnerTillRepayment",)
SERVICES = tuple(dict.fromkeys(ATM_SERVICES + BRANCH_SERVICES + EXTRA_SERVICES))

ACCESSIBILITY = (
    "AudioCashMachine", "AutomaticDoors", "ExternalRamp", "HelpingHandUnit", "InductionLoop",
    "InternalRamp", "LevelAccess", "LowerLevelCounter", "Other", "WheelchairAccess",
)

REPAYMENT_METHODS = ("cash", "cheque", "debit_card", "bank_transfer")
REPAYMENT_POSTING = ("instant", "same_day", "next_business_day", "two_business_days")

ROLES = ("cardholder", "maintainer", "merchant", "reviewer", "admin", "queue_system")
CARD_TIERS = ("classic", "gold", "platinum")

# Offer and merchant categories (our own list); a cardholder opts in to some of them.
OFFER_CATEGORIES = ("dining", "cafes", "groceries", "fashion", "electronics", "health_and_beauty",
                    "home_and_garden", "entertainment", "travel", "fuel")
