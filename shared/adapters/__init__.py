"""Adapters: the ports implemented over Microsoft Graph, Azure Table Storage and Azure Queue Storage."""
