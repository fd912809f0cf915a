from django import forms

from .models import Item


class ItemForm(forms.ModelForm):
    class Meta:
        model = Item
        fields = ["title", "room"]
        widgets = {"title": forms.TextInput(attrs={"placeholder": "What's new?", "autocomplete": "off"})}
