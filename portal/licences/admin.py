from django.contrib import admin

from portal.licences.models import ChangeRequest, LicenceEvent, LicencePolicy, Order, RenewalNotice, Subscription

for model in (Subscription, ChangeRequest, Order, LicencePolicy, LicenceEvent, RenewalNotice):
    admin.site.register(model)
