"""CLOSP Explorer: text-to-satellite-image retrieval across Sentinel-1 SAR and Sentinel-2 MSI.

Data flows one way: source -> encoder -> index -> search -> view.
"""

__version__ = "0.1.0"
