"""seqlab.reference"""
