"""Sage 300 tables (EXTERNAL.md §1), as unmanaged models.

Sage owns these tables: we never migrate them. Queries always name the
tenant's alias (`Model.objects.using(sage_alias(tenant))`). The sandbox
creates them with the schema editor for its stand-in company.
"""
from django.db import models

from sync.sage.fields import (
    SageAmount,
    SageChar,
    SageDate,
    SageNumber,
    SageQty,
    SageSwitch,
    SageTime,
)


class SageTable(models.Model):
    AUDTDATE = SageDate("AUDTDATE")
    AUDTTIME = SageTime("AUDTTIME")
    AUDTUSER = SageChar("AUDTUSER", 8)
    AUDTORG = SageChar("AUDTORG", 6)

    class Meta:
        abstract = True
        managed = False
        app_label = "sync"


class OptionalFieldTable(SageTable):
    OPTFIELD = SageChar("OPTFIELD", 12)
    VALUE = SageChar("VALUE", 60)

    class Meta(SageTable.Meta):
        abstract = True


class APVEN(SageTable):
    VENDORID = SageChar("VENDORID", 12, primary_key=True)
    SHORTNAME = SageChar("SHORTNAME", 10)
    IDGRP = SageChar("IDGRP", 6)
    SWACTV = SageSwitch("SWACTV", default=1)
    SWHOLD = SageSwitch("SWHOLD")
    VENDNAME = SageChar("VENDNAME", 60)
    TEXTSTRE1 = SageChar("TEXTSTRE1", 60)
    TEXTSTRE2 = SageChar("TEXTSTRE2", 60)
    TEXTSTRE3 = SageChar("TEXTSTRE3", 60)
    TEXTSTRE4 = SageChar("TEXTSTRE4", 60)
    NAMECITY = SageChar("NAMECITY", 30)
    CODESTTE = SageChar("CODESTTE", 30)
    CODEPSTL = SageChar("CODEPSTL", 20)
    CODECTRY = SageChar("CODECTRY", 30)
    NAMECTAC = SageChar("NAMECTAC", 60)
    TEXTPHON1 = SageChar("TEXTPHON1", 30)
    EMAIL1 = SageChar("EMAIL1", 50)
    CURNCODE = SageChar("CURNCODE", 3)
    TERMSCODE = SageChar("TERMSCODE", 6)
    IDTAXREGI1 = SageChar("IDTAXREGI1", 20)
    IDTAXREGI2 = SageChar("IDTAXREGI2", 20)
    IDTAXREGI3 = SageChar("IDTAXREGI3", 20)
    IDTAXREGI4 = SageChar("IDTAXREGI4", 20)
    IDTAXREGI5 = SageChar("IDTAXREGI5", 20)
    BRN = SageChar("BRN", 20)

    class Meta(SageTable.Meta):
        db_table = "APVEN"


class APVENO(OptionalFieldTable):
    pk = models.CompositePrimaryKey("VENDORID", "OPTFIELD")
    VENDORID = SageChar("VENDORID", 12)

    class Meta(SageTable.Meta):
        db_table = "APVENO"


class POPORH1(SageTable):
    PORHSEQ = SageNumber("PORHSEQ", 19, primary_key=True)
    PONUMBER = SageChar("PONUMBER", 22, unique=True)
    VDCODE = SageChar("VDCODE", 12)
    VDNAME = SageChar("VDNAME", 60)
    DATE = SageDate("DATE")
    EXPARRIVAL = SageDate("EXPARRIVAL")
    ISCOMPLETE = SageSwitch("ISCOMPLETE")
    DTCOMPLETE = SageDate("DTCOMPLETE")
    ONHOLD = SageSwitch("ONHOLD")
    PORTYPE = SageSwitch("PORTYPE", default=1)
    CURRENCY = SageChar("CURRENCY", 3)
    RATE = models.DecimalField(db_column="RATE", max_digits=15, decimal_places=7, default=1)
    EXTENDED = SageAmount("EXTENDED")
    DOCTOTAL = SageAmount("DOCTOTAL")
    DESCRIPTIO = SageChar("DESCRIPTIO", 60)
    COMMENT = SageChar("COMMENT", 250)
    REFERENCE = SageChar("REFERENCE", 60)
    RQNNUMBER = SageChar("RQNNUMBER", 22)
    TERMSCODE = SageChar("TERMSCODE", 6)
    FOBPOINT = SageChar("FOBPOINT", 60)
    TXEXCLUDE1 = SageSwitch("TXEXCLUDE1")
    TXEXCLUDE2 = SageSwitch("TXEXCLUDE2")
    TXEXCLUDE3 = SageSwitch("TXEXCLUDE3")
    TXEXCLUDE4 = SageSwitch("TXEXCLUDE4")
    TXEXCLUDE5 = SageSwitch("TXEXCLUDE5")

    class Meta(SageTable.Meta):
        db_table = "POPORH1"


class POPORH2(SageTable):
    PORHSEQ = SageNumber("PORHSEQ", 19, primary_key=True)
    ENTEREDBY = SageChar("ENTEREDBY", 8)
    BTCODE = SageChar("BTCODE", 6)
    BTDESC = SageChar("BTDESC", 60)
    BTADDRESS1 = SageChar("BTADDRESS1", 60)
    BTCITY = SageChar("BTCITY", 30)
    BTSTATE = SageChar("BTSTATE", 30)
    BTZIP = SageChar("BTZIP", 20)
    BTCOUNTRY = SageChar("BTCOUNTRY", 30)
    STCODE = SageChar("STCODE", 6)
    STDESC = SageChar("STDESC", 60)
    STADDRESS1 = SageChar("STADDRESS1", 60)
    STADDRESS2 = SageChar("STADDRESS2", 60)
    STCITY = SageChar("STCITY", 30)
    STSTATE = SageChar("STSTATE", 30)
    STZIP = SageChar("STZIP", 20)
    STCOUNTRY = SageChar("STCOUNTRY", 30)

    class Meta(SageTable.Meta):
        db_table = "POPORH2"


class POPORHO(OptionalFieldTable):
    pk = models.CompositePrimaryKey("PORHSEQ", "OPTFIELD")
    PORHSEQ = SageNumber("PORHSEQ", 19)

    class Meta(SageTable.Meta):
        db_table = "POPORHO"


class POPORL(SageTable):
    pk = models.CompositePrimaryKey("PORHSEQ", "PORLREV")
    PORHSEQ = SageNumber("PORHSEQ", 19)
    PORLREV = SageNumber("PORLREV", 9)
    PORLSEQ = SageNumber("PORLSEQ", 19)
    ITEMNO = SageChar("ITEMNO", 24)
    ITEMDESC = SageChar("ITEMDESC", 60)
    LOCATION = SageChar("LOCATION", 6)
    ORDERUNIT = SageChar("ORDERUNIT", 10)
    SQORDERED = SageQty("SQORDERED")
    OQORDERED = SageQty("OQORDERED")
    OQRECEIVED = SageQty("OQRECEIVED")
    OQCANCELED = SageQty("OQCANCELED")
    OQOUTSTAND = SageQty("OQOUTSTAND")
    UNITCOST = models.DecimalField(db_column="UNITCOST", max_digits=19, decimal_places=6, default=0)
    EXTENDED = SageAmount("EXTENDED")
    COMPLETION = SageSwitch("COMPLETION", default=1)

    class Meta(SageTable.Meta):
        db_table = "POPORL"


class PORCPH1(SageTable):
    RCPHSEQ = SageNumber("RCPHSEQ", 19, primary_key=True)
    RCPNUMBER = SageChar("RCPNUMBER", 22)
    PONUMBER = SageChar("PONUMBER", 22)
    PORHSEQ = SageNumber("PORHSEQ", 19, default=0)
    VDCODE = SageChar("VDCODE", 12)
    DATE = SageDate("DATE")
    ISINVOICED = SageSwitch("ISINVOICED")
    ISCOMPLETE = SageSwitch("ISCOMPLETE")

    class Meta(SageTable.Meta):
        db_table = "PORCPH1"


class PORCPL(SageTable):
    pk = models.CompositePrimaryKey("RCPHSEQ", "RCPLREV")
    RCPHSEQ = SageNumber("RCPHSEQ", 19)
    RCPLREV = SageNumber("RCPLREV", 9)
    PORHSEQ = SageNumber("PORHSEQ", 19, default=0)
    PORLSEQ = SageNumber("PORLSEQ", 19, default=0)
    RQRECEIVED = SageQty("RQRECEIVED")

    class Meta(SageTable.Meta):
        db_table = "PORCPL"


class APIBC(SageTable):
    CNTBTCH = SageNumber("CNTBTCH", 9, primary_key=True)
    DATEBTCH = SageDate("DATEBTCH")
    BTCHDESC = SageChar("BTCHDESC", 60)
    BTCHTYPE = SageSwitch("BTCHTYPE", default=1)
    BTCHSTTS = SageSwitch("BTCHSTTS", default=1)

    class Meta(SageTable.Meta):
        db_table = "APIBC"


class APIBH(SageTable):
    pk = models.CompositePrimaryKey("CNTBTCH", "CNTITEM")
    CNTBTCH = SageNumber("CNTBTCH", 9)
    CNTITEM = SageNumber("CNTITEM", 7)
    IDVEND = SageChar("IDVEND", 12)
    IDINVC = SageChar("IDINVC", 22)
    TEXTTRX = SageSwitch("TEXTTRX", default=1)
    PONBR = SageChar("PONBR", 22)
    DATEINVC = SageDate("DATEINVC")
    CODECURN = SageChar("CODECURN", 3)
    AMTINVCTOT = SageAmount("AMTINVCTOT")
    ERRENTRY = SageSwitch("ERRENTRY")

    class Meta(SageTable.Meta):
        db_table = "APIBH"


class APIBHO(OptionalFieldTable):
    pk = models.CompositePrimaryKey("CNTBTCH", "CNTITEM", "OPTFIELD")
    CNTBTCH = SageNumber("CNTBTCH", 9)
    CNTITEM = SageNumber("CNTITEM", 7)

    class Meta(SageTable.Meta):
        db_table = "APIBHO"


class APIBD(SageTable):
    pk = models.CompositePrimaryKey("CNTBTCH", "CNTITEM", "CNTLINE")
    CNTBTCH = SageNumber("CNTBTCH", 9)
    CNTITEM = SageNumber("CNTITEM", 7)
    CNTLINE = SageNumber("CNTLINE", 5)
    IDDIST = SageChar("IDDIST", 6)
    IDGLACCT = SageChar("IDGLACCT", 45)
    AMTDIST = SageAmount("AMTDIST")

    class Meta(SageTable.Meta):
        db_table = "APIBD"


class APOBL(SageTable):
    pk = models.CompositePrimaryKey("IDVEND", "IDINVC")
    IDVEND = SageChar("IDVEND", 12)
    IDINVC = SageChar("IDINVC", 22)
    IDTRXTYPE = SageSwitch("IDTRXTYPE")
    DATEINVC = SageDate("DATEINVC")
    AMTINVCHC = SageAmount("AMTINVCHC")
    AMTDUEHC = SageAmount("AMTDUEHC")
    SWPAID = SageSwitch("SWPAID")
    CNTBTCH = SageNumber("CNTBTCH", 9, default=0)
    CNTITEM = SageNumber("CNTITEM", 7, default=0)

    class Meta(SageTable.Meta):
        db_table = "APOBL"


class APBTA(SageTable):
    pk = models.CompositePrimaryKey("PAYMTYPE", "CNTBTCH")
    PAYMTYPE = SageChar("PAYMTYPE", 2)
    CNTBTCH = SageNumber("CNTBTCH", 9)
    BATCHSTAT = SageSwitch("BATCHSTAT", default=1)
    IDBANK = SageChar("IDBANK", 8)

    class Meta(SageTable.Meta):
        db_table = "APBTA"


class APTCR(SageTable):
    pk = models.CompositePrimaryKey("BTCHTYPE", "CNTBTCH", "CNTENTR")
    BTCHTYPE = SageChar("BTCHTYPE", 2)
    CNTBTCH = SageNumber("CNTBTCH", 9)
    CNTENTR = SageNumber("CNTENTR", 7)
    IDVEND = SageChar("IDVEND", 12)
    DOCNBR = SageChar("DOCNBR", 22)
    IDRMIT = SageChar("IDRMIT", 24)
    DATERMIT = SageDate("DATERMIT")
    AMTRMIT = SageAmount("AMTRMIT")
    TEXTRMIT = SageChar("TEXTRMIT", 60)
    TXTRMITREF = SageChar("TXTRMITREF", 60)
    RMITTYPE = SageSwitch("RMITTYPE", default=1)
    ERRENTRY = SageSwitch("ERRENTRY")
    CODECURN = SageChar("CODECURN", 3)

    class Meta(SageTable.Meta):
        db_table = "APTCR"


class APTCRO(OptionalFieldTable):
    pk = models.CompositePrimaryKey("BTCHTYPE", "CNTBTCH", "CNTENTR", "OPTFIELD")
    BTCHTYPE = SageChar("BTCHTYPE", 2)
    CNTBTCH = SageNumber("CNTBTCH", 9)
    CNTENTR = SageNumber("CNTENTR", 7)

    class Meta(SageTable.Meta):
        db_table = "APTCRO"


class APTCP(SageTable):
    pk = models.CompositePrimaryKey("BATCHTYPE", "CNTBTCH", "CNTRMIT", "CNTLINE")
    BATCHTYPE = SageChar("BATCHTYPE", 2)
    CNTBTCH = SageNumber("CNTBTCH", 9)
    CNTRMIT = SageNumber("CNTRMIT", 7)
    CNTLINE = SageNumber("CNTLINE", 5)
    IDVEND = SageChar("IDVEND", 12)
    IDINVC = SageChar("IDINVC", 22)
    DOCTYPE = SageSwitch("DOCTYPE", default=1)
    AMTPAYM = SageAmount("AMTPAYM")

    class Meta(SageTable.Meta):
        db_table = "APTCP"


class APPYM(SageTable):
    pk = models.CompositePrimaryKey("IDBANK", "IDVEND", "IDRMIT")
    IDBANK = SageChar("IDBANK", 8)
    IDVEND = SageChar("IDVEND", 12)
    IDRMIT = SageChar("IDRMIT", 24)
    SWCHKCLRD = SageSwitch("SWCHKCLRD")

    class Meta(SageTable.Meta):
        db_table = "APPYM"


SAGE_MODELS = (
    APVEN, APVENO, POPORH1, POPORH2, POPORHO, POPORL, PORCPH1, PORCPL,
    APIBC, APIBH, APIBHO, APIBD, APOBL, APBTA, APTCR, APTCRO, APTCP, APPYM,
)
